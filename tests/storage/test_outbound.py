"""The outbound queue's storage (`storage/outbound.py`), on SQLite and
PostgreSQL: a reply written down is sent once, in order within its chat,
by one worker at a time, survives a worker's crash, and is given up only
with a reason that is counted."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from bot.outbound.codec import decode, encode
from core.messages import Image, Reply
from storage.outbound import OutboundState, OutboundStore
from storage.outbound_budget import SharedBudget
from storage.outbound_rows import NewOutgoing
from storage.schema import outbound_messages, outbound_pictures, utcnow
from storage.sql import SqlStorage

LEASE = timedelta(seconds=30)


@pytest.fixture
async def store(storage):
    outbound = OutboundStore(storage)
    yield outbound
    await outbound.close()


def payload(text: str) -> dict:
    return {"replies": [{"text": text}], "meta": {}}


async def test_a_reply_written_down_is_claimed_by_its_writer_and_gone_once_sent(store):
    row, mine = await store.put("telegram", "42", payload("Chào bạn"), worker_id="w1", lease=LEASE)
    assert mine
    assert await store.claim("telegram", "w2", 10, LEASE) == []  # in flight for w1
    await store.sent_many("w1", [row])
    assert await store.counts("telegram") == {}


async def test_a_chat_s_later_reply_waits_behind_the_earlier_one(store):
    first, _ = await store.put("telegram", "42", payload("một"), worker_id="w1", lease=LEASE)
    second, mine = await store.put("telegram", "42", payload("hai"), worker_id="w1", lease=LEASE)
    other, other_mine = await store.put("telegram", "43", payload("ba"), worker_id="w1", lease=LEASE)
    assert not mine and other_mine  # another chat is not held up
    assert await store.claim("telegram", "w2", 10, LEASE) == []
    await store.sent_many("w1", [first])
    [claimed] = await store.claim("telegram", "w2", 10, LEASE)
    assert (claimed.id, claimed.payload["replies"][0]["text"]) == (second, "hai")


async def test_a_crashed_worker_s_reply_is_claimed_again_once_its_lease_lapses(store):
    row, _ = await store.put("telegram", "42", payload("Chào"), worker_id="dead", lease=timedelta(seconds=-1))
    [claimed] = await store.claim("telegram", "alive", 10, LEASE)
    assert claimed.id == row and claimed.attempts == 2
    await store.sent_many("dead", [row])  # the dead worker's late write changes nothing
    assert await store.counts("telegram") == {"in_flight": 1}


async def test_a_retry_keeps_the_parts_already_sent(store):
    row, _ = await store.put("zalo_bot", "u1", payload("x"), worker_id="w1", lease=LEASE)
    await store.retry_later("w1", row, done_parts=1, at=utcnow() + timedelta(seconds=60), error="TransientError")
    assert await store.claim("zalo_bot", "w1", 10, LEASE) == []  # not due yet
    await store.retry_later("w1", row, done_parts=1, at=utcnow(), error="TransientError")  # not w1's any more
    later = utcnow() + timedelta(seconds=61)
    [claimed] = await store.claim("zalo_bot", "w2", 10, LEASE, now=later)
    assert claimed.done_parts == 1


async def test_given_up_replies_keep_no_content_and_are_counted(store, storage):
    gone, _ = await store.put("telegram", "42", payload("Số CCCD của bạn"), worker_id="w1", lease=LEASE)
    await store.give_up("w1", gone, OutboundState.UNREACHABLE, "unreachable")
    await store.put("telegram", "43", payload("cũ"), worker_id="w1", lease=timedelta(seconds=-1))
    assert await store.expire(timedelta(hours=24), now=utcnow() + timedelta(hours=25)) == 1
    assert await store.counts("telegram") == {"unreachable": 1, "expired": 1}
    async with storage.transaction() as conn:
        assert (await conn.execute(select(outbound_messages.c.payload))).scalars().all() == [None, None]


async def test_a_picture_shown_by_many_replies_is_stored_once_and_comes_back_after_a_crash(store, storage):
    step = Image(png=b"\x89PNG guide step 1", alt="Màn hình VNeID", key="guide/vi/step-1")
    for chat in ("42", "43"):
        written = encode([Reply("Bước 1", image=step)])
        await store.put(
            "telegram", chat, written.payload, worker_id="dead", lease=timedelta(seconds=-1), pictures=written.pictures
        )
    async with storage.transaction() as conn:
        assert (await conn.execute(select(func.count()).select_from(outbound_pictures))).scalar() == 1
    claimed = await store.claim("telegram", "w2", 10, LEASE)  # the lease of the dead worker's rows lapsed
    assert [decode(row.payload, row.pictures)[0] for row in claimed] == [[Reply("Bước 1", image=step)]] * 2


async def test_pictures_no_reply_names_are_forgotten_once_old(store, storage):
    old, named = (Image(png=name.encode(), alt=name, key=name) for name in ("old", "named"))
    for chat, image in (("42", old), ("43", named)):
        written = encode([Reply("x", image=image)])
        row, _ = await store.put(
            "telegram", chat, written.payload, worker_id="w1", lease=LEASE, pictures=written.pictures
        )
        if image is old:
            await store.sent_many("w1", [row])
    day = timedelta(hours=24)
    assert await store.forget_pictures(day) == 0  # both were stored just now
    assert await store.forget_pictures(day, now=utcnow() + 2 * day) == 1
    async with storage.transaction() as conn:
        assert (await conn.execute(select(outbound_pictures.c.png))).scalars().all() == [b"named"]


def test_a_reply_whose_picture_is_gone_still_goes_with_its_text():
    written = encode([Reply("Bước 2", image=Image(png=b"png", alt="alt", key="guide/vi/step-2"))])
    assert decode(written.payload, {}) == ([Reply("Bước 2")], {})


async def test_rows_sent_together_are_deleted_only_for_the_worker_that_holds_them(store):
    mine = [(await store.put("telegram", str(chat), payload("x"), worker_id="w1", lease=LEASE))[0] for chat in range(3)]
    other, _ = await store.put("telegram", "9", payload("y"), worker_id="w2", lease=LEASE)
    await store.sent_many("w1", [*mine, other])  # a late write for a row another worker holds changes nothing
    assert await store.counts("telegram") == {"in_flight": 1}
    await store.sent_many("w2", [other])
    assert await store.counts("telegram") == {}


async def test_workers_claiming_at_once_each_take_different_rows(store):
    for chat in range(40):
        await store.put("telegram", str(chat), payload("x"), worker_id="dead", lease=timedelta(seconds=-1))
    batches = await asyncio.gather(*(store.claim("telegram", f"w{n}", 15, LEASE) for n in range(4)))
    ids = [row.id for batch in batches for row in batch]
    assert len(ids) == len(set(ids)) == 40


async def test_workers_share_one_send_budget_spaced_evenly(postgres_url):
    storage = SqlStorage(postgres_url)  # several workers share a budget only on PostgreSQL
    await storage.init()
    try:
        budget = SharedBudget(storage, "telegram", per_second=10)
        delays = sorted(await asyncio.gather(*(budget.reserve() for _ in range(5))))
        assert delays[0] < 0.05
        assert all(0.07 < later - earlier < 0.11 for earlier, later in itertools.pairwise(delays))
        assert await budget.try_reserve(margin=0.1) is None  # the next slot is 0.5 s away
        assert await budget.try_reserve(margin=1.0) is not None
    finally:
        await budget.close()
        await storage.close()


async def test_the_shared_budget_carries_on_after_its_connection_is_cut(postgres_url):
    storage = SqlStorage(postgres_url)
    await storage.init()
    budget = SharedBudget(storage, "telegram", per_second=1000)
    try:
        await budget.reserve()
        async with storage.transaction(write=True) as conn:  # as a database restart would
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        await asyncio.sleep(0.1)
        assert await budget.reserve(3) >= 0.0
    finally:
        await budget.close()
        await storage.close()


async def ride(storage, update_id: str, worker_id: str = "dead", lease: timedelta = timedelta(seconds=-1)) -> int:
    """A turn's row whose last reply rides in the webhook response of `update_id`."""
    rider = NewOutgoing("telegram", "42", payload("Chào"), worker_id, lease, rides_with=update_id)
    queued = await storage.save_turn("telegram", "42", update_id=update_id, replies=rider)
    assert queued is not None and queued.mine
    return queued.row_id


async def test_a_riding_reply_is_sent_by_another_worker_only_once_its_update_comes_again(store, storage):
    row = await ride(storage, "update-7")
    _, later_mine = await store.put("telegram", "42", payload("sau"), worker_id="w1", lease=LEASE)
    assert later_mine  # the chat's next reply is not held up by it
    assert await store.claim("telegram", "alive", 10, LEASE) == []  # its lease lapsed, yet nobody sends it
    assert not await store.unride_update("telegram", "42", "update-6")  # another update
    assert await store.unride_update("telegram", "42", "update-7")  # Telegram got no response: it comes again
    [claimed] = await store.claim("telegram", "alive", 10, LEASE)
    assert (claimed.id, claimed.payload) == (row, payload("Chào"))


async def test_a_riding_reply_that_cannot_ride_is_claimable_once_its_writer_s_lease_lapses(store, storage):
    row = await ride(storage, "update-9", worker_id="w1", lease=LEASE)
    await store.unride("w2", row, timedelta(seconds=-1))  # not w2's row
    assert await store.claim("telegram", "w2", 10, LEASE) == []
    await store.unride("w1", row, timedelta(seconds=-1))
    [claimed] = await store.claim("telegram", "w2", 10, LEASE)
    assert claimed.id == row


async def test_riding_rows_left_a_day_are_deleted_not_counted_as_given_up(store, storage):
    await ride(storage, "update-8", worker_id="w1", lease=LEASE)
    assert await store.expire(timedelta(hours=24)) == 0
    assert await store.counts("telegram") == {"riding": 1}
    assert await store.expire(timedelta(hours=24), now=utcnow() + timedelta(hours=25)) == 0
    assert await store.counts("telegram") == {}
