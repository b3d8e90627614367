"""Updates acknowledged before their turn was saved (storage/inbox.py), on
SQLite and PostgreSQL: kept until done, then handled again by one worker
at a time once their time has come."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.inbox import InboxStore
from storage.schema import utcnow

UPDATE = {"update_id": 7, "message": {"text": "000.00.01.H01-261103-0012"}}
LEASE = timedelta(seconds=30)


async def test_a_kept_update_is_claimed_once_its_time_has_come_by_one_claimer_at_a_time(storage):
    inbox = InboxStore(storage, "telegram")
    await inbox.keep("7", "42", UPDATE, retry_at=utcnow() + timedelta(seconds=0.3))
    await inbox.keep("7", "42", {"other": True}, retry_at=utcnow())  # the same update again: kept once
    assert await inbox.claim_due(LEASE) == []  # its own worker may still save it

    await asyncio.sleep(0.4)
    first, second = await asyncio.gather(inbox.claim_due(LEASE), inbox.claim_due(LEASE))
    claimed = first + second
    assert [(kept.update_id, kept.body, kept.attempts) for kept in claimed] == [("7", UPDATE, 1)]
    assert await inbox.claim_due(LEASE) == []  # the claimer holds it for the lease


async def test_a_done_update_is_never_claimed_and_channels_keep_their_own(storage):
    telegram, zalo = InboxStore(storage, "telegram"), InboxStore(storage, "zalo_bot")
    past = utcnow() - timedelta(seconds=1)
    await telegram.keep("7", "42", UPDATE, retry_at=past)
    await telegram.keep("8", "43", UPDATE, retry_at=past)
    await zalo.keep("7", "44", {"zalo": 1}, retry_at=past)
    await telegram.done("7")
    assert [kept.update_id for kept in await telegram.claim_due(timedelta(0))] == ["8"]
    assert [kept.body for kept in await zalo.claim_due(timedelta(0))] == [{"zalo": 1}]
    assert [kept.attempts for kept in await telegram.claim_due(LEASE)] == [2]  # claimed again: counted


async def test_forget_me_erases_the_users_kept_updates(storage):
    inbox = InboxStore(storage, "telegram")
    past = utcnow() - timedelta(seconds=1)
    await inbox.keep("7", "42", UPDATE, retry_at=past)
    await inbox.keep("8", "43", UPDATE, retry_at=past)
    await storage.forget_user("telegram", "42")
    assert [kept.update_id for kept in await inbox.claim_due(LEASE)] == ["8"]


async def test_an_update_its_keeper_still_handles_is_not_claimed(storage):
    inbox = InboxStore(storage, "telegram")
    await inbox.keep("7", "42", UPDATE, retry_at=utcnow() + timedelta(seconds=0.3))
    await inbox.renew(["7"], utcnow() + LEASE)
    await asyncio.sleep(0.4)
    assert await inbox.claim_due(LEASE) == []
