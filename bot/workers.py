"""Background jobs of `troly run --worker`, safe to start in every worker.

Several worker processes serve the same bot behind one address and share
PostgreSQL. What each job needs so it runs once across them:

- broadcast delivery: every runtime runs a `DeliveryWorker` (bot/app.py);
  outbox rows are claimed with `FOR UPDATE SKIP LOCKED`, so no row goes to
  two workers, and starting a due broadcast is a conditional UPDATE that
  only one wins;
- housekeeping (pruning old platform update ids): only the *leader* runs it.
  The leader is whoever holds a PostgreSQL session advisory lock; if its
  process dies, the session ends, the lock is free and another worker takes
  over within `retry_seconds`.

Webhook retries towards the bot belong to the backend (its own outbox), a
separate process, so workers never duplicate them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from bot.channels.base import Channel
from storage.sql import SqlStorage

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 600.0
LEADER_RETRY_SECONDS = 15.0


class LeaderJob:
    """Run `job()` every `every` seconds in one worker only.

    On PostgreSQL the worker holding the advisory lock `troly:leader:<name>`
    (on a connection of its own, for as long as it lives) is the leader; on
    SQLite there is one process, so it always is."""

    def __init__(
        self,
        storage: SqlStorage,
        name: str,
        job: Callable[[], Awaitable[object]],
        *,
        every: float,
        retry_seconds: float = LEADER_RETRY_SECONDS,
    ) -> None:
        self.storage = storage
        self.name = name
        self.job = job
        self.every = every
        self.retry_seconds = retry_seconds
        self.is_leader = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if self.storage.is_postgres:
                    await self._lead_while_locked(stop)
                else:
                    self.is_leader = True
                    await self._repeat(stop)
            except Exception as error:  # the database went away: try again later
                log.warning("leader job %s: %s; retrying", self.name, type(error).__name__)
            self.is_leader = False
            await _wait(stop, self.retry_seconds)

    async def _lead_while_locked(self, stop: asyncio.Event) -> None:
        async with self.storage.leader_lock(self.name) as still_held:
            if still_held is None:
                return
            log.info("leader job %s: this worker leads", self.name)
            self.is_leader = True
            await self._repeat(stop, still_held)

    async def _repeat(self, stop: asyncio.Event, still_held: Callable[[], Awaitable[None]] | None = None) -> None:
        while not stop.is_set():
            if still_held is not None:
                await still_held()
            try:
                await self.job()
            except Exception:
                log.exception("leader job %s failed; next run in %.0f s", self.name, self.every)
            await _wait(stop, self.every)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class WorkerJobs:
    """The leader-only jobs of a `--worker` process (broadcast delivery
    already runs in every runtime and is safe there: it claims rows)."""

    def __init__(self, storage: SqlStorage, *, prune_every: float = PRUNE_EVERY_SECONDS) -> None:
        self.storage = storage
        self.housekeeping = LeaderJob(storage, "housekeeping", self._prune, every=prune_every)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _prune(self) -> None:
        removed = await self.storage.prune_seen_updates()
        log.info("housekeeping: %d old update ids pruned", removed)

    def start(self) -> None:
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self.housekeeping.run(self._stop), name="worker:housekeeping")]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def polling_channels(channels: Iterable[Channel]) -> list[str]:
    """Channels that would receive by polling: several workers polling one
    bot would compete for its updates, so `--worker` refuses them."""
    return [
        channel.name
        for channel in channels
        if getattr(channel, "webhook_mode", None) is False or getattr(channel, "uses_webhook", None) is False
    ]
