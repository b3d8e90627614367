"""Who a broadcast reaches, when it goes, and stopping it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.broadcasts.model import BroadcastStatus, DeliveryState, Segment, SegmentError
from storage.broadcasts.store import BroadcastStore
from storage.schema import broadcast_deliveries as rows
from tests.broadcast.conftest import ADMIN, add_citizens, deliver


async def recipients(broadcasts, *terms) -> list[str]:
    broadcast = await broadcasts.create(created_by=ADMIN, text="Tin", segment=Segment.parse(list(terms)))
    async with broadcasts.storage.transaction() as conn:
        query = select(rows.c.channel, rows.c.user_id).where(rows.c.broadcast_id == broadcast.id)
        return sorted(f"{channel}:{user}" for channel, user in (await conn.execute(query)).all())


@pytest.fixture
async def citizens(storage):
    await add_citizens(storage, 2, start=1, province_code="79", commune_code="26734", language="vi")
    await add_citizens(storage, 1, start=3, province_code="79", commune_code="26737", language="en")
    await add_citizens(storage, 1, start=4, province_code="01", language=None, source="xa-tan-phu_cb07")
    await add_citizens(storage, 1, start=5, channel="zalo_bot", province_code="01", source="xa-tan-phu_cb12")
    await add_citizens(storage, 1, start=6, province_code="79", announcements_opt_out=True)
    await add_citizens(storage, 1, start=7, province_code="79", unreachable=True)
    await storage.subscribe("telegram", "2", "LLTP-0001")
    await storage.subscribe("zalo_bot", "5", "LLTP-0002")


async def test_everyone_means_everyone_who_has_not_opted_out_or_blocked_the_bot(broadcasts, citizens):
    assert await recipients(broadcasts, "everyone") == [
        "telegram:1", "telegram:2", "telegram:3", "telegram:4", "zalo_bot:5"
    ]  # fmt: skip


async def test_segment_by_channel_province_and_commune(broadcasts, citizens):
    assert await recipients(broadcasts, "channel=zalo_bot") == ["zalo_bot:5"]
    assert await recipients(broadcasts, "province=79") == ["telegram:1", "telegram:2", "telegram:3"]
    assert await recipients(broadcasts, "province=79", "commune=26737") == ["telegram:3"]
    assert await recipients(broadcasts, "province=01", "channel=telegram") == ["telegram:4"]


async def test_segment_by_language_counts_citizens_who_never_chose_as_vietnamese(broadcasts, citizens):
    assert await recipients(broadcasts, "language=en") == ["telegram:3"]
    assert "telegram:4" in await recipients(broadcasts, "language=vi")


async def test_segment_by_outreach_source_matches_the_poster_place(broadcasts, citizens):
    assert await recipients(broadcasts, "source=xa-tan-phu") == ["telegram:4", "zalo_bot:5"]
    assert await recipients(broadcasts, "source=xa-tan-phu_cb12") == ["zalo_bot:5"]


async def test_segment_of_citizens_following_a_request(storage, broadcasts, citizens):
    assert await recipients(broadcasts, "following=any") == ["telegram:2", "zalo_bot:5"]

    async def statuses(codes):
        return {"LLTP-0001": "returned", "LLTP-0002": "verifying"}

    with_backend = BroadcastStore(storage, status_resolver=statuses)
    assert await recipients(with_backend, "following=returned") == ["telegram:2"]
    with pytest.raises(SegmentError):  # no way to know statuses: refuse rather than guess
        await broadcasts.create(created_by=ADMIN, text="Tin", segment=Segment.parse(["following=returned"]))


def test_segment_terms_are_checked_with_a_clear_message():
    assert Segment.parse(["province=79,01", "language=vi"]).describe() == "province=79,01 language=vi"
    for bad in (["provice=79"], ["province="], ["79"]):
        with pytest.raises(SegmentError, match="segment term"):
            Segment.parse(bad)


async def test_scheduled_broadcast_waits_for_its_time(storage, broadcasts, platform):
    await add_citizens(storage, 3)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    broadcast = await broadcasts.create(created_by=ADMIN, text="Ngày mai", segment=Segment(), at=at)
    assert broadcast.status == BroadcastStatus.SCHEDULED and broadcast.recipients == 0

    await deliver(broadcasts, platform)  # nothing is due yet
    assert platform.delivered == 0
    await add_citizens(storage, 1, start=10)  # joins before the time: included

    await asyncio.sleep((at - datetime.now(UTC)).total_seconds() + 0.1)
    await deliver(broadcasts, platform)
    assert sorted(platform.received) == ["1", "10", "2", "3"]
    assert (await broadcasts.report(broadcast.id)).status == BroadcastStatus.DONE


async def test_cancelled_broadcast_sends_nothing_more_and_reports_skipped(storage, broadcasts, platform):
    await add_citizens(storage, 20)
    broadcast = await broadcasts.create(created_by=ADMIN, text="Nhầm", segment=Segment())
    assert (await broadcasts.cancel(broadcast.id, ADMIN)).status == BroadcastStatus.CANCELLED

    await deliver(broadcasts, platform)

    assert platform.delivered == 0
    report = await broadcasts.report(broadcast.id)
    assert report.count(DeliveryState.SKIPPED) == 20 and report.status == BroadcastStatus.CANCELLED
    assert await broadcasts.cancel(broadcast.id, ADMIN) is None  # already ended
    actions = [row["action"] for row in await broadcasts.storage.list_audit(actor=ADMIN)]
    assert actions[:2] == ["broadcast.cancelled", "broadcast.created"]


async def test_cancelling_a_scheduled_broadcast_means_it_never_goes(storage, broadcasts, platform):
    await add_citizens(storage, 3)
    later = datetime.now(UTC) + timedelta(minutes=5)
    broadcast = await broadcasts.create(created_by=ADMIN, text="Sau", segment=Segment(), at=later)
    await broadcasts.cancel(broadcast.id, ADMIN)
    assert await broadcasts.start_due(now=later + timedelta(minutes=1)) == []
    await deliver(broadcasts, platform)
    assert platform.delivered == 0
