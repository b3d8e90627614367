"""A webhook's acknowledgement when the turn is slower than the platform's
patience (`storage/inbox.py`). The webhook waits for the update's replies to
be written down, one second at most (`wait_until_stored`); if the turn is
still running then, the update itself is written down before the platform
gets its 200, and deleted once the turn is saved; while the turn runs, its
worker renews the row's lease. Should the worker die in between, any worker
handles that update again once the lease (`outbound.lease_seconds`) has
passed: a citizen's message is never lost to an acknowledgement that came
before its turn was saved. Zalo Bot's getUpdates hands an update over once,
so there each one is written down while it is handled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.config import OutboundSettings
from bot.outbound.queue import wait_until_stored
from storage.inbox import InboxStore
from storage.schema import utcnow
from storage.sql import SqlStorage

log = logging.getLogger(__name__)

# An update handled this many times without its turn being saved is given up
# (logged): it may be what kills the workers.
REPLAY_LIMIT = 3

# Handle a kept update's body again; the future its turn settles once its
# replies are written down, or None when the body is no update.
Replay = Callable[[dict[str, Any]], asyncio.Future | None]


class Inbox:
    """One bot account's kept updates. Without a `SqlStorage` (unit tests,
    `troly chat`) it keeps nothing."""

    def __init__(self, channel: str, storage: object | None, settings: OutboundSettings | None, replay: Replay):
        self.channel = channel
        self.settings = settings or OutboundSettings()
        self.store = InboxStore(storage, channel) if isinstance(storage, SqlStorage) else None
        self._replay = replay
        self._lease = timedelta(seconds=self.settings.lease_seconds)
        self._runner: asyncio.Task | None = None
        self._writes: set[asyncio.Task] = set()  # in the background
        self._handling: set[str] = set()  # kept updates this process is still handling
        # Stopping: turns cut short settle their futures too, so rows stay for the next worker.
        self._stopping = False

    async def acknowledge(
        self, update_id: str | None, chat_id: str | None, body: dict[str, Any], stored: asyncio.Future
    ) -> None:
        """Before the webhook answers 200: wait for the turn's replies to be
        written down, or else write the update down (`update_id`: the
        platform's, None for an update the dialogue does not take)."""
        await wait_until_stored(stored)
        if not stored.done():
            await self.keep_while_handled(update_id, chat_id, body, stored)

    async def keep_while_handled(
        self, update_id: str | None, chat_id: str | None, body: dict[str, Any], stored: asyncio.Future
    ) -> None:
        """Write the update down until its turn is saved (`stored`)."""
        if self.store is None or update_id is None:
            return
        try:
            await self.store.keep(update_id, chat_id, body, utcnow() + self._lease)
        except Exception:
            log.exception("%s: an update still being handled could not be kept", self.channel)
            return
        self._delete_once_handled(update_id, stored)

    def keep_soon(
        self, update_id: str | None, chat_id: str | None, body: dict[str, Any], stored: asyncio.Future
    ) -> None:
        """`keep_while_handled` in the background."""
        self._spawn(self.keep_while_handled(update_id, chat_id, body, stored))

    def start(self) -> None:
        if self.store is not None and self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"inbox:{self.channel}")

    async def stop(self) -> None:
        """Once the channel has drained: what is still being handled is kept."""
        self._stopping = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=5)

    async def _run(self) -> None:
        assert self.store is not None
        renewed_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            try:
                if self._handling and loop.time() - renewed_at >= self._lease.total_seconds() / 3:
                    # Still handling them: no other worker takes them over.
                    renewed_at = loop.time()
                    await self.store.renew(self._handling, utcnow() + self._lease)
                kept = await self.store.claim_due(self._lease)
            except Exception:
                log.exception("%s: kept updates could not be read; retrying", self.channel)
                continue
            for update in kept:
                if update.update_id in self._handling:
                    continue  # its lease lapsed (a slow database), but it is ours: its own end deletes it
                if update.attempts > REPLAY_LIMIT:
                    log.error("%s: gave up an update handled %d times, never saved", self.channel, update.attempts)
                    self._done(update.update_id)
                    continue
                log.info("%s: handling again an update whose worker stopped before saving it", self.channel)
                self._delete_once_handled(update.update_id, self._replay(update.body))

    def _delete_once_handled(self, update_id: str, stored: asyncio.Future | None) -> None:
        if stored is None or stored.done():
            self._done(update_id)
            return
        self._handling.add(update_id)
        stored.add_done_callback(lambda _: self._done(update_id))

    def _done(self, update_id: str) -> None:
        assert self.store is not None
        self._handling.discard(update_id)
        if self._stopping:
            return
        self._spawn(self._quietly(self.store.done(update_id)))

    def _spawn(self, write: Awaitable[None]) -> None:
        task = asyncio.ensure_future(write)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _quietly(self, write: Awaitable[None]) -> None:
        """A row left behind is handled again later and dropped as a duplicate."""
        try:
            await write
        except Exception:
            log.exception("%s: a kept update could not be deleted", self.channel)
