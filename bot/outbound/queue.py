"""The outbound queue of one bot account.

`deliver` writes a chat's replies down (`storage/outbound.py`), settles
`stored` (what the channel waits for before acknowledging the update),
then sends them at once in the caller's task when no earlier message of
the chat is still waiting; otherwise the row waits its turn and the
background loop (`run`) sends it. The loop also sends what a crashed
worker left in flight (its lease lapsed) and what waits for a retry, and
gives up rows older than `max_age_hours`.

Every send goes through the channel's pacer (`bot/outbound/pacing.py`),
which the channel's own API calls ask, urgent first. A 429 pauses the
pacer and the reply waits its turn again, however long `retry_after` is;
a reply is given up only when the platform says the user is unreachable,
when it refuses the message for good, or when it is too old, and each of
those is counted (`given_up`) and logged, never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.channels.base import RateLimited, TransientError, UserUnreachable
from bot.config import OutboundSettings
from bot.outbound import turn_replies
from bot.outbound.codec import decode, encode
from bot.outbound.group_commit import GroupCommit
from bot.outbound.pacing import ChannelPacer
from bot.outbound.turn_replies import TurnReplies
from core.messages import Reply
from storage.outbound import OutboundState, OutboundStore
from storage.schema import utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

SendReply = Callable[[str, Reply, dict[str, Any]], Awaitable[None]]
REPLY, NOTICE = 0, 1  # priorities: a reply someone waits for goes first
# A webhook request waits at most this long for its replies to be written
# down before answering the platform (which delivers again if we die first).
ACK_WAIT_SECONDS = 1.0
INLINE_NETWORK_RETRIES = 3  # then the row waits in the queue, and the loop retries it
EXPIRE_EVERY_SECONDS = 60.0
# Riding rows whose response went are deleted this often, in one statement:
# off the webhook's path, and one commit for many rows.
SWEEP_RIDERS_SECONDS = 1.0


def settle(future: asyncio.Future | None, result: Any = None) -> None:
    if future is not None and not future.done():
        future.set_result(result)


async def wait_until_stored(stored: asyncio.Future) -> None:
    """For a webhook handler: until the update's replies are written down,
    `ACK_WAIT_SECONDS` at most."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(stored), ACK_WAIT_SECONDS)


class OutboundQueue:
    """Replies and notices of one bot account (`channel`), sent by `send_reply`
    one `Reply` at a time. Without a store (tests, `troly chat`) nothing is
    written down, the rest is the same."""

    def __init__(
        self,
        channel: str,
        send_reply: SendReply,
        pacer: ChannelPacer,
        settings: OutboundSettings,
        store: OutboundStore | None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.channel = channel
        self.send_reply = send_reply
        self.pacer = pacer
        self.settings = settings
        self.store = store
        self.worker_id = worker_id or f"out-{uuid.uuid4().hex[:12]}"
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.max_age = timedelta(hours=settings.max_age_hours)
        self.given_up: Counter[str] = Counter()  # reason -> replies given up by this process
        self.rate_limited = 0  # 429s this queue's sends received
        self._in_flight: set[int] = set()  # row ids this worker is sending (leases to renew)
        self._wake = asyncio.Event()
        self._rows_waiting = False  # a row was queued behind another: the loop should look
        self._tasks: list[asyncio.Task] = []
        self._sending: set[asyncio.Task] = set()
        self._rode: list[int] = []  # riding rows whose response went, for the next bulk delete
        # Rows sent are deleted in groups: those sent while a delete is in
        # flight go in the next one. A crash before it resends them (at
        # least once): at most the rows of one round trip.
        self._deletes: GroupCommit[int] | None = None
        if store is not None:
            self._deletes = GroupCommit(lambda rows: store.sent_many(self.worker_id, rows))

    # --- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        """Run the background loop (rows waiting their turn, crashed workers'
        rows, expiry) and the lease renewal; only with a store."""
        if self.store is None or self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._run(), name=f"outbound:{self.channel}"),
            asyncio.create_task(self._renew_leases(), name=f"outbound-leases:{self.channel}"),
            asyncio.create_task(self._sweep_riders(), name=f"outbound-riders:{self.channel}"),
        ]

    async def stop(self, timeout: float = 10) -> None:
        """Let sends in progress finish (up to `timeout`), then stop; rows
        not sent stay in the queue for the next start or another worker."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=timeout)
        for task in [*self._tasks, *self._sending]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._sending, return_exceptions=True)
        self._tasks = []
        await self._delete_rode()
        if self._deletes is not None:
            await self._deletes.close()  # the group delete in flight, if any
        if self.store is not None:
            await self.store.close()
        if self.pacer.shared is not None:
            await self.pacer.shared.budget.close()

    @property
    def idle(self) -> bool:
        return not self._sending and not self._in_flight

    # --- sending ---------------------------------------------------------------
    def turn_replies(
        self,
        chat_id: str,
        meta: dict[str, Any] | None = None,
        prepare: Callable[[Sequence[Reply]], list[Reply]] = list,
        rider: Callable[[Sequence[Reply]], Any] | None = None,
    ) -> contextlib.AbstractContextManager[TurnReplies]:
        """Around the dispatcher's call: the turn's replies to `chat_id` are
        written down with the turn itself (`bot/outbound/turn_replies.py`)."""
        storage = self.store.storage if self.store is not None else None
        written = TurnReplies(
            storage, self.channel, chat_id, meta or {}, self.worker_id, self.lease, REPLY, prepare, rider
        )
        return turn_replies.opened(written)

    async def deliver(
        self,
        chat_id: str,
        replies: Sequence[Reply],
        meta: dict[str, Any] | None = None,
        *,
        priority: int = REPLY,
        stored: asyncio.Future | None = None,
        written: TurnReplies | None = None,
    ) -> bool:
        """Write the replies down (unless the turn did: `written`), settle
        `stored`, and send them now if it is this chat's turn; True if they
        were all sent now. Failures are logged and counted, not raised:
        nobody waits on them."""
        meta = meta or {}
        if written is not None and written.queued is not None:
            settle(stored)
            return await self._send_written(written)
        if not replies:
            settle(stored)
            return True
        row: int | None = None
        mine = True
        if self.store is not None:
            try:
                encoded = encode(replies, meta)
                row, mine = await self.store.put(
                    self.channel, chat_id, encoded.payload, worker_id=self.worker_id, lease=self.lease,
                    priority=priority, pictures=encoded.pictures,
                )  # fmt: skip
            except Exception:
                log.exception("%s: a reply could not be written down; sending it at once", self.channel)
        settle(stored)
        if not mine:
            return self._wait_behind_earlier_row()
        return await self._send(row, chat_id, list(replies), meta, done=0, created_at=utcnow())

    def _wait_behind_earlier_row(self) -> bool:
        """A row queued behind its chat's earlier one: the loop sends it in turn."""
        self._rows_waiting = True
        self._wake.set()
        return False

    async def _send_written(self, written: TurnReplies, *, done: int = 0, upto: int | None = None) -> bool:
        """Send the row the turn wrote, if it is this chat's turn (see `_send`)."""
        assert written.queued is not None
        if not written.queued.mine:
            return self._wait_behind_earlier_row()
        row, replies = written.queued.row_id, written.replies
        return await self._send(row, written.chat_id, replies, written.meta, done=done, created_at=utcnow(), upto=upto)

    async def send_all_but_last(self, written: TurnReplies) -> bool:
        """Of the riding row the turn wrote, all replies but the last (which
        rides in a webhook response), if it is this chat's turn; the row
        stays until `rode` or `send_rest`."""
        return await self._send_written(written, upto=len(written.replies) - 1)

    async def rode(self, written: TurnReplies) -> None:
        """The webhook response carrying the row's last reply went: the row
        goes with the next bulk delete (`_sweep_riders`)."""
        if written.queued is not None and self.store is not None:
            self._rode.append(written.queued.row_id)

    async def send_rest(self, written: TurnReplies, stored: asyncio.Future | None = None) -> bool:
        """The row's last reply could not ride after all: in flight (claimable
        if this worker dies) before `stored` says the update may be
        acknowledged, then by the Bot API."""
        if written.riding and written.queued is not None and self.store is not None:
            await self._quietly(self.store.unride(self.worker_id, written.queued.row_id, self.lease))
        settle(stored)
        return await self._send_written(written, done=len(written.replies) - 1)

    async def release_riding(self, written: TurnReplies) -> None:
        """For an update delivered again: its riding row, if any, in flight
        (see `OutboundStore.unride_update`), before the copy is acknowledged."""
        if self.store is None or written.redelivered is None:
            return
        if await self._quietly(self.store.unride_update(self.channel, written.chat_id, written.redelivered)):
            self._wake.set()  # its writer's lease may have lapsed already

    async def _send(
        self,
        row: int | None,
        chat_id: str,
        replies: list[Reply],
        meta: dict[str, Any],
        *,
        done: int,
        created_at: datetime,
        upto: int | None = None,
    ) -> bool:
        """Send `replies[done:upto]`, then (when that is all of them) settle
        the row; True if they all went."""
        upto = len(replies) if upto is None else upto
        if row is not None:
            self._in_flight.add(row)
        failures = 0
        try:
            while done < upto:
                try:
                    await self.send_reply(chat_id, replies[done], meta)
                    done, failures = done + 1, 0
                    if row is not None and self.store is not None and done < len(replies):
                        # A crash now must not send this part again with the rest.
                        await self._quietly(self.store.progress(self.worker_id, row, done))
                except RateLimited as error:
                    self.rate_limited += 1
                    self.pacer.pause(error.retry_after)  # the next try waits for the pacer
                    if utcnow() - created_at > self.max_age:
                        await self._give_up(row, OutboundState.EXPIRED, "too old")
                        return False
                except TransientError as error:
                    failures += 1
                    if failures > INLINE_NETWORK_RETRIES and row is not None:
                        await self._retry_later(row, done, f"{type(error).__name__}: {error}")
                        return False
                    await asyncio.sleep(self._backoff(failures))
                except UserUnreachable:
                    await self._give_up(row, OutboundState.UNREACHABLE, "unreachable")
                    return False
                except Exception as error:  # a refusal (bad request) will not improve by retrying
                    log.warning("%s: a reply was refused: %s", self.channel, type(error).__name__)
                    await self._give_up(row, OutboundState.FAILED, f"{type(error).__name__}: {error}")
                    return False
            if row is not None and self._deletes is not None and upto == len(replies):
                await self._quietly(self._deletes.submit(row))
                if self._rows_waiting:
                    self._wake.set()  # the chat's next row may go now
            return True
        finally:
            if row is not None:
                self._in_flight.discard(row)

    def _backoff(self, failures: int) -> float:
        base = min(self.settings.retry_base_seconds * 2 ** (failures - 1), self.settings.retry_max_seconds)
        return base * random.uniform(0.5, 1.0)  # jitter: workers do not retry in step

    async def _retry_later(self, row: int, done: int, error: str) -> None:
        assert self.store is not None
        at = utcnow() + timedelta(seconds=self._backoff(INLINE_NETWORK_RETRIES + 1))
        await self._quietly(self.store.retry_later(self.worker_id, row, done_parts=done, at=at, error=error))
        self._rows_waiting = True

    async def _give_up(self, row: int | None, state: OutboundState, reason: str) -> None:
        self.given_up[state.value] += 1
        log.warning("%s: a reply was given up (%s)", self.channel, state.value)
        if row is not None and self.store is not None:
            await self._quietly(self.store.give_up(self.worker_id, row, state, reason))

    async def _quietly(self, write: Awaitable[T]) -> T | None:
        """A bookkeeping write (its result, None if it failed); if it fails
        the row's lease lapses and the row is sent again later: better twice
        than never."""
        try:
            return await write
        except Exception:
            log.exception("%s: the outbound queue could not be updated", self.channel)
            return None

    # --- the background loop ------------------------------------------------------
    async def _run(self) -> None:
        assert self.store is not None
        expired_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
            self._wake.clear()
            try:
                if loop.time() - expired_at >= EXPIRE_EVERY_SECONDS:
                    expired_at = loop.time()
                    if expired := await self.store.expire(self.max_age):
                        self.given_up[OutboundState.EXPIRED.value] += expired
                        log.warning("%s: %d replies older than the queue's max age given up", self.channel, expired)
                    await self.store.forget_pictures(self.max_age)
                free = self.settings.concurrency - len(self._sending)
                if free <= 0:
                    continue
                rows = await self.store.claim(self.channel, self.worker_id, free, self.lease)
            except Exception:
                log.exception("%s: the outbound queue could not be read; retrying", self.channel)
                continue
            if not rows:
                self._rows_waiting = False
            for outgoing in rows:
                replies, meta = decode(outgoing.payload, outgoing.pictures)
                work = self._send(
                    outgoing.id,
                    outgoing.chat_id,
                    replies,
                    meta,
                    done=outgoing.done_parts,
                    created_at=outgoing.created_at,
                )
                task = asyncio.create_task(work)
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            if len(rows) == free:
                self._wake.set()  # there may be more

    async def _sweep_riders(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_RIDERS_SECONDS)
            await self._delete_rode()

    async def _delete_rode(self) -> None:
        if self._rode and self.store is not None:
            rows, self._rode = self._rode, []
            await self._quietly(self.store.sent_many(self.worker_id, rows))

    async def _renew_leases(self) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            await self._quietly(self.store.renew(self.worker_id, sorted(self._in_flight), self.lease))
