"""Locks other than a turn's user lock (`storage.pg_turn`): process-local
locks by key, with which `SqlStorage.user_lock` queues one user's messages
in memory before any database lock is taken; and the PostgreSQL session
lock that makes one worker the leader of a job (`bot.workers.LeaderJob`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._entries: dict[str, list] = {}  # key -> [lock, holders and waiters]

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._entries[key]


@contextlib.asynccontextmanager
async def leader_lock(lock_engine: AsyncEngine, name: str) -> AsyncIterator[Callable[[], Awaitable[None]] | None]:
    """The session advisory lock `troly:leader:<name>`, tried on a
    connection of its own and held for the block: yields a check that the
    connection, so the lock, is still there (it raises if not), or None
    when another worker holds the lock. The lock goes with the session if
    the process dies."""
    params = {"key": f"troly:leader:{name}"}
    async with lock_engine.connect() as conn:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), params)).scalar()
        if not got:
            yield None
            return

        async def still_held() -> None:
            await conn.execute(text("SELECT 1"))  # still connected, so still the lock holder

        try:
            yield still_held
        finally:
            with contextlib.suppress(Exception):
                await conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), params)
