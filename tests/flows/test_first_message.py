"""A question sent as the very first message is answered at once, in the
language it is written in; a greeting or /start still gets the welcome; and
nothing personal is kept before consent."""

from __future__ import annotations

import pytest

from bot.dispatcher import Dispatcher
from domain.knowledge import load_knowledge
from tests.flows.helpers import Chat, make_services


@pytest.fixture
def chat(storage):
    return Chat(Dispatcher(make_services(storage, knowledge=load_knowledge())))


@pytest.mark.parametrize(
    ("question", "lang", "fact"),
    [
        ("Làm phiếu lý lịch tư pháp mất bao lâu?", "vi", "ngày làm việc"),
        ("Phiếu mất bao lâu mới có vậy ad", "vi", "ngày làm việc"),
        ("How long does the certificate take?", "en", "working days"),
    ],
)
async def test_a_first_question_is_answered_without_the_language_picker(chat, question, lang, fact):
    await chat.say(question)
    assert fact in chat.text
    assert "onboarding:lang:vi" not in chat.payloads
    user = await chat.dispatcher.services.storage.get_user("web", chat.user_id)
    assert user is not None and user.language == lang
    assert user.consent_at is None and user.province_code is None


async def test_a_greeting_or_start_as_first_message_gets_the_welcome(chat):
    await chat.say("xin chào")
    assert "onboarding:lang:vi" in chat.payloads
    other = Chat(chat.dispatcher, user_id="u2")
    await other.start()
    assert "onboarding:lang:en" in other.payloads


async def test_after_a_first_answer_the_bot_carries_on_and_asks_consent_only_when_it_must_keep_something(chat):
    await chat.say("cho tôi gặp cán bộ")
    assert "onboarding:lang:vi" not in chat.payloads
    await chat.press("handoff:ask")  # a question left for an officer is kept: consent first
    assert "onboarding:consent:yes" in chat.payloads
    await chat.press("onboarding:consent:yes")
    user = await chat.dispatcher.services.storage.get_user("web", chat.user_id)
    assert user is not None and user.consent_at is not None


async def test_start_after_a_first_question_still_offers_the_language_and_the_privacy_notice(chat):
    await chat.say("How long does the certificate take?")
    await chat.start()
    assert "onboarding:lang:vi" in chat.payloads
