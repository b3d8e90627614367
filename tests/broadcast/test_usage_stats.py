"""Admins see who uses the bot and how well it understands them."""

from __future__ import annotations

import io

from PIL import Image

from bot.usage_stats import stats_text, usage_stats
from tests.broadcast.conftest import CONFIG_ADMIN, add_citizens, says


async def test_stats_count_citizens_intents_fallbacks_and_the_funnel(storage):
    await add_citizens(storage, 3, province_code="79")
    await add_citizens(storage, 1, start=10, channel="zalo_bot")
    for user, names in {"1": ["guide_started", "guide_finished"], "2": ["guide_started", "status_lookup"]}.items():
        for name in names:
            await storage.record_event("telegram", user, name)
    for intent in ("fee_info", "fee_info", "check_status"):
        await storage.record_event("telegram", "3", "intent", {"intent": intent, "confidence": 0.9})
    await storage.record_event("telegram", "3", "fallback", {"kind": "nlu_fallback"})

    stats = await usage_stats(storage, days=7)

    assert stats.citizens == 4 and stats.by_channel == {"telegram": 3, "zalo_bot": 1}
    assert stats.by_province == {"79": 3, "?": 1}
    assert stats.top_intents == [("fee_info", 2), ("check_status", 1)]
    assert stats.fallback_rate == 0.25
    assert stats.funnel == {"guide_started": 2, "guide_finished": 1, "status_checked": 1, "certificate_delivered": 0}
    assert list(stats.active_per_day.values())[-1] == 3 and len(stats.active_per_day) == 7
    assert "Không hiểu / Fallback rate: 25%" in stats_text(stats)


async def test_admin_gets_stats_with_a_chart_and_citizens_do_not(staff, storage):
    await add_citizens(storage, 2)
    text, chart = await staff.handle(says(CONFIG_ADMIN, "/stats"))
    assert "Người dùng / Citizens: 2" in text.text
    with Image.open(io.BytesIO(chart.image.png)) as picture:
        assert picture.format == "PNG" and picture.size == (1500, 700)  # six panels
    assert await staff.handle(says("telegram:42", "/stats")) is None
