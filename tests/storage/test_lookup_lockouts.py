"""Wrong status-lookup proofs per request code (issue 20, finding 4), on
SQLite and PostgreSQL: whoever sends them, they add up, lock the code for
the window, and count once each even when sent at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage.schema import lookup_lockouts

NOW = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
CODE = "000.00.01.H01-261103-0012"
OTHER = "000.00.79.H79-261115-0007"


async def test_the_fifth_wrong_proof_locks_the_code_for_the_window(storage):
    for minute in range(4):
        assert await storage.lookup_failed(CODE, 5, WINDOW, NOW + timedelta(minutes=minute)) is None
    fifth = NOW + timedelta(minutes=4)
    assert await storage.lookup_failed(CODE, 5, WINDOW, fifth) == fifth + WINDOW
    assert await storage.lookup_locked_until(CODE, fifth + WINDOW - timedelta(seconds=1)) == fifth + WINDOW
    assert await storage.lookup_locked_until(CODE, fifth + WINDOW) is None
    assert await storage.lookup_locked_until(OTHER, fifth) is None
    # Once it is over, counting starts again from one.
    assert await storage.lookup_failed(CODE, 5, WINDOW, fifth + WINDOW) is None


async def test_wrong_proofs_older_than_the_window_do_not_count(storage):
    for _ in range(4):
        await storage.lookup_failed(CODE, 5, WINDOW, NOW)
    assert await storage.lookup_failed(CODE, 5, WINDOW, NOW + WINDOW) is None


async def test_wrong_proofs_at_the_same_moment_each_count(storage):
    await asyncio.gather(*(storage.lookup_failed(CODE, 5, WINDOW, NOW) for _ in range(5)))
    assert await storage.lookup_locked_until(CODE, NOW) == NOW + WINDOW


async def test_the_code_is_kept_only_as_a_keyed_hash(storage):
    await storage.lookup_failed(CODE, 5, WINDOW, NOW)
    async with storage.transaction() as conn:
        rows = (await conn.execute(select(lookup_lockouts))).all()
    assert len(rows) == 1 and CODE not in str(rows[0]) and "261103" not in str(rows[0])
