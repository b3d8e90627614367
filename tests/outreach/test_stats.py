"""Outreach staff see whom each poster reached and how far they got."""

from __future__ import annotations

from bot.outreach.stats import outreach_stats


async def citizen(storage, user_id: str, source: str | None, *events: str, channel: str = "telegram") -> None:
    user = await storage.get_or_create_user(channel, user_id, user_id)
    user.source = source
    await storage.save_user(user)
    for name in events:
        await storage.record_event(channel, user_id, name)


async def test_stats_count_citizens_per_place_and_staff_and_their_progress(storage):
    await citizen(storage, "1", "xa-tan-phu_CB07", "guide_started", "guide_finished", "status_lookup")
    await citizen(storage, "2", "xa-tan-phu_CB07", "guide_started", "guide_started")
    await citizen(storage, "3", "xa-tan-phu_CB12", "status_lookup", "certificate_sent", channel="zalo_bot")
    await citizen(storage, "4", "thon-ea-sup_CB07")
    await citizen(storage, "5", None, "guide_started")  # not from a poster
    await citizen(storage, "6", "promo2026")  # a start payload that is not a poster's

    rows = [row.as_dict() for row in await outreach_stats(storage)]

    assert rows == [
        {"place": "xa-tan-phu", "staff": "CB07", "citizens": 2, "guide_started": 2, "guide_finished": 1,
         "status_checked": 1, "certificate_delivered": 0},
        {"place": "thon-ea-sup", "staff": "CB07", "citizens": 1, "guide_started": 0, "guide_finished": 0,
         "status_checked": 0, "certificate_delivered": 0},
        {"place": "xa-tan-phu", "staff": "CB12", "citizens": 1, "guide_started": 0, "guide_finished": 0,
         "status_checked": 1, "certificate_delivered": 1},
    ]  # fmt: skip


async def test_forgotten_citizen_no_longer_counts(storage):
    await citizen(storage, "1", "xa-tan-phu_CB07", "guide_started")
    await storage.forget_user("telegram", "1")
    assert await outreach_stats(storage) == []
