"""The delivery engine against a loopback platform: every citizen once,
platform errors handled as a platform operator expects."""

from __future__ import annotations

import asyncio

from bot.outbound.pacing import ChannelPacer, TokenBucket
from storage.broadcasts.model import BroadcastStatus, DeliveryState, Segment
from storage.broadcasts.store import BroadcastStore
from storage.sql import SqlStorage
from tests.broadcast.conftest import ADMIN, add_citizens, deliver, fast_settings


async def test_broadcast_reaches_every_citizen_exactly_once(storage, broadcasts, platform):
    ids = await add_citizens(storage, 120)
    broadcast = await broadcasts.create(created_by=ADMIN, text="Thông báo: lịch nghỉ lễ.", segment=Segment())
    assert broadcast.status == BroadcastStatus.SENDING and broadcast.recipients == 120

    await deliver(broadcasts, platform)

    assert dict(platform.received) == {id: ["Thông báo: lịch nghỉ lễ."] for id in ids}
    report = await broadcasts.report(broadcast.id)
    assert report.status == BroadcastStatus.DONE
    assert report.count(DeliveryState.SENT) == 120 and report.total == 120


async def test_broadcast_photo_and_link_reach_the_citizen(storage, broadcasts, platform):
    await add_citizens(storage, 3)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    await broadcasts.create(
        created_by=ADMIN, text="Mẫu tờ khai mới", segment=Segment(), image=png, link=("Xem", "https://example.gov.vn")
    )
    await deliver(broadcasts, platform)
    assert platform.images == {"1": 1, "2": 1, "3": 1}


async def test_citizen_who_blocked_the_bot_is_reported_unreachable_and_left_out_next_time(
    storage, broadcasts, platform
):
    await add_citizens(storage, 10)
    platform.block("4")
    first = await broadcasts.create(created_by=ADMIN, text="Lần 1", segment=Segment())
    await deliver(broadcasts, platform)

    report = await broadcasts.report(first.id)
    assert report.count(DeliveryState.UNREACHABLE) == 1 and report.count(DeliveryState.SENT) == 9
    assert (await storage.get_user("telegram", "4")).unreachable
    second = await broadcasts.create(created_by=ADMIN, text="Lần 2", segment=Segment())
    assert second.recipients == 9


async def test_rate_limit_pauses_the_whole_channel_for_retry_after(storage, broadcasts, platform):
    ids = await add_citizens(storage, 40)
    platform.fail(429, times=1, retry_after=1)
    broadcast = await broadcasts.create(created_by=ADMIN, text="Tin", segment=Segment())
    await deliver(broadcasts, platform)

    assert all(platform.received[id] == ["Tin"] for id in ids)
    limited_at = next(at for at, _, status in platform.log if status == 429)
    # Only sends already on their way (at most `concurrency`) land during the pause.
    during_pause = [at for at, _, _ in platform.log if limited_at < at < limited_at + 0.95]
    assert len(during_pause) <= fast_settings().concurrency
    assert platform.log[-1][0] >= limited_at + 0.95
    assert platform.answers[429] == 1
    report = await broadcasts.report(broadcast.id)
    assert report.count(DeliveryState.SENT) == 40


async def test_network_errors_are_retried_then_reported_failed(storage, broadcasts, platform):
    await add_citizens(storage, 5)
    platform.fail(500, times=2, chat_id="1")  # recovers on the third attempt
    platform.fail(503, times=100, chat_id="2")  # never recovers
    broadcast = await broadcasts.create(created_by=ADMIN, text="Tin", segment=Segment())
    await deliver(broadcasts, platform, fast_settings(max_attempts=3))

    assert platform.received["1"] == ["Tin"] and "2" not in platform.received
    report = await broadcasts.report(broadcast.id)
    assert report.count(DeliveryState.SENT) == 4 and report.count(DeliveryState.FAILED) == 1
    assert report.status == BroadcastStatus.DONE


async def test_citizen_who_opts_out_after_the_broadcast_started_is_skipped(storage, broadcasts, platform):
    await add_citizens(storage, 5)
    await add_citizens(storage, 2, start=100, announcements_opt_out=True)
    broadcast = await broadcasts.create(created_by=ADMIN, text="Tin", segment=Segment())
    assert broadcast.recipients == 5  # opted out before: never chosen
    user = await storage.get_user("telegram", "3")
    user.announcements_opt_out = True
    await storage.save_user(user)

    await deliver(broadcasts, platform)

    assert sorted(platform.received) == ["1", "2", "4", "5"]
    report = await broadcasts.report(broadcast.id)
    assert report.count(DeliveryState.SKIPPED) == 1 and report.count(DeliveryState.SENT) == 4


async def test_two_workers_share_the_outbox_without_double_sending(storage_url, platform):
    storages = [SqlStorage(storage_url) for _ in range(2)]
    for storage in storages:
        await storage.init()
    try:
        ids = await add_citizens(storages[0], 400)
        stores = [BroadcastStore(storage) for storage in storages]
        await stores[0].create(created_by=ADMIN, text="Tin", segment=Segment())
        settings = fast_settings(batch_size=20)
        await asyncio.gather(*(deliver(store, platform, settings) for store in stores))
    finally:
        for storage in storages:
            await storage.close()
    assert sorted(platform.received, key=int) == ids
    assert all(len(texts) == 1 for texts in platform.received.values())


def test_token_bucket_spaces_sends_at_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=30, burst=1, clock=lambda: now[0])
    slots = [bucket.reserve() for _ in range(31)]
    assert slots[0] == 0 and abs(slots[30] - 1.0) < 1e-9  # 31st send exactly one second after the first


async def test_pacer_spaces_messages_to_one_chat_but_not_to_others():
    pacer = ChannelPacer(per_second=1000, per_chat_per_second=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    times = {}
    for key, chat in [("first", "7"), ("other", "8"), ("again", "7")]:
        pacer.finished(await pacer.acquire(chat))
        times[key] = loop.time() - started
    assert times["other"] < 0.05 and times["again"] >= 0.19


async def test_pacer_counts_a_slow_answer_against_the_limit_until_it_arrives():
    # The platform may count a message as late as its answer: the next
    # message over the limit waits a full second after that answer.
    pacer = ChannelPacer(per_second=1000, per_chat_per_second=1000, limit=3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    slow, *quick = [await pacer.acquire(str(chat)) for chat in range(3)]
    for ticket in quick:
        pacer.finished(ticket)
    loop.call_later(0.2, pacer.finished, slow)
    await pacer.acquire("3")
    assert loop.time() - started >= 1.19


async def test_pacer_holds_every_send_while_paused():
    pacer = ChannelPacer(per_second=1000, per_chat_per_second=1000)
    pacer.pause(0.3)
    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(pacer.acquire(str(chat)) for chat in range(5)))
    assert asyncio.get_running_loop().time() - started >= 0.29
