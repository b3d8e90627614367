"""Statistics an admin can read (issue 19): intent, topic, channel and
province names instead of ids, and a chart whose empty panels say
"Chưa có dữ liệu" instead of drawing axes around nothing."""

from __future__ import annotations

import re
from pathlib import Path

from bot.usage_stats import NO_DATA, stats_chart, stats_text, usage_stats
from flows.answers import RATED_TOPICS
from flows.texts import texts
from nlu.training_data import load_training_data
from tests.broadcast.conftest import add_citizens
from tests.feedback.test_feedback_stats import rate

NLU_DATA = Path(__file__).resolve().parents[2] / "nlu" / "data" / "nlu.yml"


def svg_words(svg: bytes) -> str:
    """The words drawn on an SVG chart (its <text> elements, fonts not converted to paths)."""
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg.decode("utf-8")))


def test_every_intent_and_rated_topic_has_a_name_in_both_languages():
    intents = set(load_training_data(NLU_DATA).intents)
    for intent in intents | RATED_TOPICS:
        assert texts().intent_name(intent, "vi") != intent and texts().intent_name(intent, "en") != intent, intent


async def test_stats_name_provinces_intents_topics_and_channels(storage):
    await add_citizens(storage, 3, province_code="79")
    await add_citizens(storage, 2, start=10, channel="zalo_bot")  # never said their province
    for intent in ("fee_info", "fee_info", "check_status"):
        await storage.record_event("telegram", "1", "intent", {"intent": intent, "confidence": 0.9})
    await rate(storage, "1", "processing_time", "up")

    stats = await usage_stats(storage, days=7)
    text = stats_text(stats)

    assert "Tỉnh / Provinces: Hồ Chí Minh 3, Chưa rõ tỉnh 2" in text
    assert "Phí 2, Tra cứu hồ sơ 1" in text
    assert "Thời gian giải quyết 👍1 👎0" in text
    assert "Telegram 3, Zalo Bot 2" in text
    for raw in ("fee_info", "check_status", "processing_time", "? 2", "79 3", "zalo_bot"):
        assert raw not in text
    drawn = svg_words(stats_chart(stats, "svg"))
    assert "Phí" in drawn and "Thời gian giải quyết" in drawn and "Zalo Bot" in drawn
    assert "fee_info" not in drawn and "processing_time" not in drawn
    assert drawn.count(NO_DATA) == 2  # no funnel stage reached, no unanswered question


async def test_an_empty_chart_says_there_is_no_data_yet_instead_of_empty_axes(storage):
    drawn = svg_words(stats_chart(await usage_stats(storage, days=7), "svg"))
    assert drawn.count(NO_DATA) == 6
    assert not re.search(r"[\u2212-]?0\.0\d", drawn)  # no ±0.045 ticks around nothing
