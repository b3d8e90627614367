"""The words that confirm an unsure guess (nlu/data/topic_words.yml)."""

from __future__ import annotations

from nlu.topic_words import names_topic, topic_words
from nlu.training_data import load_training_data
from tests.nlu.conftest import TRAINING_DATA


def test_every_topic_is_an_intent_of_the_training_data():
    intents = set(load_training_data(TRAINING_DATA).intents)
    assert topic_words() and set(topic_words()) <= intents
    assert all(words for words in topic_words().values())


def test_words_match_whole_words_as_citizens_type_them():
    assert names_topic("fee_info", "làm phiếu tốn bn tiền")  # teencode expanded: "bao nhieu tien"
    assert names_topic("fee_info", "LAM PHIEU TON BAO NHIEU")
    assert names_topic("validity", "phiếu có hết hạn không")
    assert not names_topic("fee_info", "phiếu có hết hạn không")
    assert not names_topic("scams", "lựa chọn nơi nhận")  # "lua" alone is no scam word
    assert not names_topic("no_such_intent", "bao nhiêu tiền")
