"""The delivery worker: works the outbox of every channel it has an adapter
for, paced to the platform's limits, persisting each send's result.

Per channel, a loop claims a batch of due rows (`BroadcastStore.claim`),
sends each through `Channel.send` when the `ChannelPacer` allows, and
settles results as they come in (a 429 pauses the channel and puts the row
back; a 403 marks the user unreachable; a network error retries with
exponential backoff; anything else fails the row). A heartbeat renews the
leases of the rows in flight; if the process dies, their leases run out and
another worker (or this one, restarted) claims them again. So after a crash
nobody is skipped, and only rows in flight at that moment can go twice.

Several workers, in one process or many, share the outbox safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Mapping
from datetime import timedelta

from bot.channels.base import Channel, RateLimited, TransientError, UserUnreachable
from bot.config import BroadcastSettings
from bot.outbound.pacing import URGENT, ChannelPacer, Ticket, pacer_for
from core.messages import Image, Link, Reply
from storage.broadcasts.model import Broadcast, Delivery, DeliveryState
from storage.broadcasts.store import BroadcastStore, Outcome
from storage.schema import utcnow

log = logging.getLogger(__name__)


def broadcast_replies(broadcast: Broadcast) -> list[Reply]:
    """What citizens receive: the text (as the photo's caption when there
    is a photo) and the optional link button."""
    image = None
    if broadcast.image:
        alt = broadcast.text.strip().splitlines()[0][:200]
        image = Image(png=broadcast.image, alt=alt, key=f"broadcast/{broadcast.id}")
    link = Link(broadcast.link_title or broadcast.link_url, broadcast.link_url) if broadcast.link_url else None
    return [Reply(text=broadcast.text, image=image, link=link, kind="announcement")]


class DeliveryWorker:
    """Delivers broadcasts on `channels` (name -> adapter).

    `await worker.run(stop=event)` works until `event` is set; with
    `exit_when_idle=True` it returns once nothing is left to send."""

    def __init__(
        self,
        store: BroadcastStore,
        channels: Mapping[str, Channel],
        settings: BroadcastSettings,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.settings = settings
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.pacers = {name: _pacer(settings, name) for name in self.channels}
        self._replies: dict[int, list[Reply]] = {}  # broadcast id -> replies (small: one per live broadcast)
        self._stop = asyncio.Event()

    async def run(self, stop: asyncio.Event | None = None, *, exit_when_idle: bool = False) -> None:
        stop = stop or asyncio.Event()
        self._stop = asyncio.Event()
        loops = [asyncio.create_task(self._work_channel(name), name=f"broadcast:{name}") for name in self.channels]
        try:
            while not stop.is_set():
                try:
                    await self.store.start_due()
                    await self.store.finish_completed()
                    if exit_when_idle and not await self._has_work():
                        break
                except Exception:
                    log.exception("broadcast: scheduling step failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.poll_seconds)
        finally:
            self._stop.set()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.store.finish_completed()

    async def _has_work(self) -> bool:
        return any(name in self.channels for name in await self.store.channels_with_work())

    # --- one channel ------------------------------------------------------
    async def _work_channel(self, name: str) -> None:
        while not self._stop.is_set():
            try:
                batch = await self.store.claim(name, self.worker_id, self.settings.batch_size, self.lease)
            except Exception:
                log.exception("broadcast: claiming %s rows failed; retrying", name)
                batch = []
            if batch:
                try:
                    await self._send_batch(name, batch)
                except Exception:
                    # Rows left in flight come back when their lease ends.
                    log.exception("broadcast: a %s batch failed", name)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.poll_seconds)

    async def _send_batch(self, name: str, batch: list[Delivery]) -> None:
        channel = self.channels[name]
        # A channel that paces its own calls (one pacer per bot account,
        # shared with replies) is only told that these sends are bulk.
        own_pacer: ChannelPacer | None = getattr(channel, "pacer", None)
        pacer = own_pacer or self.pacers[name]
        in_flight = {delivery.id for delivery in batch}  # claimed, result not yet persisted
        started: set[int] = set()
        settler = _Settler(self.store, self.worker_id, name)
        heartbeat = asyncio.create_task(self._renew_leases(in_flight))
        slots = asyncio.Semaphore(self.settings.concurrency)
        sends: list[asyncio.Task] = []

        async def send(delivery: Delivery, replies: list[Reply], ticket: Ticket | None) -> None:
            URGENT.set(False)  # this task's context only: replies go first
            try:
                try:
                    outcome = await self._send_one(channel, pacer, delivery, replies)
                finally:
                    if ticket is not None:
                        pacer.finished(ticket)
                await settler.add(outcome)
                in_flight.discard(delivery.id)
            finally:
                slots.release()

        try:
            for delivery in batch:
                replies = await self._replies_for(delivery.broadcast_id)
                await slots.acquire()
                if self._stop.is_set():
                    slots.release()
                    break
                ticket = None if own_pacer else await pacer.acquire(delivery.chat_id, cost=len(replies), urgent=False)
                started.add(delivery.id)
                sends.append(asyncio.create_task(send(delivery, replies, ticket)))
            await asyncio.gather(*sends)
        finally:
            # Claimed but never attempted (we are stopping): back to the pool now.
            await settler.add_all(
                [Outcome(id, DeliveryState.PENDING, refund_attempt=True) for id in in_flight - started]
            )
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _send_one(
        self, channel: Channel, pacer: ChannelPacer, delivery: Delivery, replies: list[Reply]
    ) -> Outcome:
        try:
            await channel.send(delivery.chat_id, replies)
        except RateLimited as error:
            pacer.pause(error.retry_after)
            log.warning("broadcast: %s asked us to wait %.1f s", channel.name, error.retry_after)
            retry_at = utcnow() + timedelta(seconds=error.retry_after)
            return Outcome(delivery.id, DeliveryState.PENDING, retry_at, "rate limited", refund_attempt=True)
        except UserUnreachable:
            return Outcome(delivery.id, DeliveryState.UNREACHABLE, error="unreachable")
        except TransientError as error:
            return self._retry_or_fail(delivery, f"{type(error).__name__}: {error}")
        except Exception as error:  # a refusal (DeliveryError, bad request) will not improve by retrying
            log.warning("broadcast: %s refused a message: %s", channel.name, type(error).__name__)
            return Outcome(delivery.id, DeliveryState.FAILED, error=f"{type(error).__name__}: {error}")
        return Outcome(delivery.id, DeliveryState.SENT)

    def _retry_or_fail(self, delivery: Delivery, error: str) -> Outcome:
        if delivery.attempts >= self.settings.max_attempts:
            return Outcome(delivery.id, DeliveryState.FAILED, error=error)
        backoff = min(self.settings.retry_base_seconds * 2 ** (delivery.attempts - 1), self.settings.retry_max_seconds)
        retry_at = utcnow() + timedelta(seconds=backoff * random.uniform(0.5, 1.0))  # jitter: no thundering herd
        return Outcome(delivery.id, DeliveryState.PENDING, retry_at, error)

    async def _replies_for(self, broadcast_id: int) -> list[Reply]:
        replies = self._replies.get(broadcast_id)
        if replies is None:
            broadcast = await self.store.get(broadcast_id)
            if broadcast is None:
                raise LookupError(f"broadcast {broadcast_id} vanished")
            if len(self._replies) > 16:
                self._replies.clear()
            replies = self._replies[broadcast_id] = broadcast_replies(broadcast)
        return replies

    async def _renew_leases(self, in_flight: set[int]) -> None:
        period = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(period)
            try:
                await self.store.renew(self.worker_id, sorted(in_flight), self.lease)
            except Exception:
                log.exception("broadcast: renewing leases failed")


def _pacer(settings: BroadcastSettings, channel: str) -> ChannelPacer:
    return pacer_for(settings.rate_for(channel), settings.headroom)


class _Settler:
    """Persists outcomes as they arrive; outcomes that arrive while a write
    is running go together in the next one."""

    def __init__(self, store: BroadcastStore, worker_id: str, channel: str) -> None:
        self.store, self.worker_id, self.channel = store, worker_id, channel
        self._queue: list[Outcome] = []
        self._lock = asyncio.Lock()

    async def add(self, outcome: Outcome) -> None:
        await self.add_all([outcome])

    async def add_all(self, outcomes: list[Outcome]) -> None:
        self._queue.extend(outcomes)
        async with self._lock:
            batch, self._queue = self._queue, []
            if batch:
                await self.store.settle(self.worker_id, batch, self.channel)

    async def close(self) -> None:
        await self.add_all([])
