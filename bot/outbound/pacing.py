"""Pacing sends to a platform's flood limits.

Two rules together, per channel:

- `TokenBucket`: the classic bucket (rate, burst), kept as a theoretical
  arrival time (GCRA) so a sender reserves its slot in one step. It spreads
  sends evenly instead of in bursts.
- A sliding window anchored on *finished* sends: a message may go only once
  the message `limit` places before it has been answered at least a second
  ago (and, per chat, once the previous message to that chat was answered
  `1/per_chat` seconds ago). The platform counts a message somewhere
  between our request and its answer, so this guarantees at most `limit`
  in any second as the platform sees it, whatever the network or either
  side's scheduling delays; a bucket alone overruns the limit whenever one
  message is delayed by more than its spare fraction of a second.

`ChannelPacer` also pauses the whole channel after a 429, lets a chat
have short bursts (`per_chat_burst` messages back to back, then one per
`1/per_chat` seconds), and serves urgent sends (a reply someone waits for)
before bulk ones (an announcement), which wait while any urgent send does.
One pacer per bot account, shared by replies, notices and broadcasts
(`bot/outbound/`).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import Counter, deque
from collections.abc import Callable

from bot.config import ChannelRate
from bot.outbound.priority_lock import PriorityLock
from bot.outbound.shared_slots import SharedSlots

Clock = Callable[[], float]
# Whether the sends made in this context are urgent (replies, notices: the
# default) or bulk (an announcement's, set by the broadcast worker): a
# channel that paces its own calls asks the pacer with it.
URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("urgent_send", default=True)
WINDOW_SECONDS = 1.0
# A webhook response's message reaches the platform after our answer; count
# it as sent this long after we hand it over.
RESPONSE_MARGIN_SECONDS = 0.2


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.interval = 1.0 / rate
        self.burst = burst
        self.clock = clock
        self._arrival = 0.0  # when the bucket would be exactly empty again

    def ready(self, now: float) -> bool:
        """Would a token be there at `now`, without waiting?"""
        return self._arrival - (self.burst - 1) * self.interval <= now

    def reserve(self, cost: float = 1.0, not_before: float = 0.0) -> float:
        """Take `cost` tokens, at `not_before` at the earliest; returns the
        monotonic time at which the caller may act."""
        now = max(self.clock(), not_before)
        slot = max(now, self._arrival - (self.burst - 1) * self.interval)
        self._arrival = max(self._arrival, slot) + cost * self.interval
        return slot


class Ticket:
    """One send in progress; `ChannelPacer.finished` records its answer."""

    __slots__ = ("done", "finished_at")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.finished_at = 0.0


class ChannelPacer:
    """Paces one bot account: `per_second` overall (bucket with `burst`, and
    at most `limit` per second as the platform counts them), and to any one
    chat `per_chat_burst` messages then `per_chat_per_second`; nothing while
    paused. Urgent sends go first.

        ticket = await pacer.acquire(chat_id, urgent=False)
        try: await channel.send(...)
        finally: pacer.finished(ticket)
    """

    def __init__(
        self,
        per_second: float,
        per_chat_per_second: float,
        burst: float = 1.0,
        *,
        limit: int | None = None,
        per_chat_burst: int = 1,
        clock: Clock = time.monotonic,
    ) -> None:
        self.clock = clock
        self.bucket = TokenBucket(per_second, burst, clock)
        self.limit = limit or max(1, int(per_second))
        self.chat_burst = max(1, per_chat_burst)
        self.chat_window = self.chat_burst / per_chat_per_second
        self._recent: deque[Ticket] = deque()  # the latest sends, oldest first (one entry per message)
        self._to_chat: dict[str, deque[Ticket]] = {}  # each chat's latest sends, at most `chat_burst`
        self._dispatch = PriorityLock()  # sends leave in the order they were admitted, urgent ones first
        self._paused_until = 0.0
        self.pauses = 0
        self._waiting_chats: Counter[str] = Counter()  # chats with a send waiting in `acquire`
        # Several workers of one bot account (PostgreSQL): each send also
        # takes a slot of the budget they share.
        self.shared: SharedSlots | None = None

    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def urgent_waiting(self) -> int:
        """Urgent sends waiting for their turn (bulk ones wait behind them)."""
        return self._dispatch.urgent_waiting

    def has_room(self) -> bool:
        """True when no reply waits for a slot and the platform has not
        asked us to pause: only then are best-effort calls ("typing...") made."""
        return self._dispatch.urgent_waiting == 0 and self.clock() >= self._paused_until

    def pause(self, seconds: float) -> None:
        """The platform said "too many requests": nothing goes out on this
        channel for `seconds`."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def acquire(self, chat_id: str, cost: int = 1, *, urgent: bool = True) -> Ticket:
        """Wait until a send of `cost` platform messages to `chat_id` may go.
        One chat's sends are made one after another by their callers."""
        self._waiting_chats[chat_id] += 1
        try:
            await self._wait_for_chat(chat_id, cost)
            async with self._dispatch.held(urgent):
                while True:
                    await self._wait_for_window(cost)
                    await self._sleep_until(self.bucket.reserve(cost, not_before=self._paused_until))
                    if self.shared is not None:
                        for _ in range(cost):
                            await self._sleep_until(await self.shared.slot(self._dispatch.waiting))
                    # A webhook response's message may have taken the room
                    # meanwhile, or a 429 paused us: then queue again.
                    now = self.clock()
                    if now >= self._paused_until and self._window_has_room(cost, now):
                        return self._admit(chat_id, cost)
        finally:
            self._waiting_chats[chat_id] -= 1
            if not self._waiting_chats[chat_id]:
                del self._waiting_chats[chat_id]

    async def try_acquire(self, chat_id: str) -> Ticket | None:
        """A slot for one message now, or None, decided without waiting for
        a slot: for a reply that rides in a webhook response, which cannot
        wait (with several workers, a slot of the shared budget held or
        borrowed here, or at most one round trip, see `shared_slots.py`).
        Already counted as finished (the platform sends it once it has our
        answer). It goes ahead of sends waiting for their turn only when the
        last second's count has room for them too, and never ahead of a
        send to its own chat."""
        if not self._may_ride(chat_id):
            return None
        if self.shared is not None and not await self.shared.take_for_rider(
            RESPONSE_MARGIN_SECONDS, self._dispatch.waiting
        ):
            return None
        if not self._may_ride(chat_id):  # what changed during the round trip
            return None
        now = self.clock()
        self.bucket.reserve(1, not_before=now)
        ticket = self._admit(chat_id, 1)
        ticket.finished_at = now + RESPONSE_MARGIN_SECONDS
        ticket.done.set()
        return ticket

    def _may_ride(self, chat_id: str) -> bool:
        now = self.clock()
        if now < self._paused_until or chat_id in self._waiting_chats or not self._chat_free(chat_id, 1, now):
            return False
        # The message leaves with our answer, a moment later: a slot that
        # comes within that moment is as good as free.
        room = 1 + self._dispatch.urgent_waiting
        return self._window_has_room(room, now) and self.bucket.ready(now + RESPONSE_MARGIN_SECONDS)

    def _window_has_room(self, cost: int, now: float) -> bool:
        while self._recent and self._recent[0].done.is_set() and self._recent[0].finished_at + WINDOW_SECONDS <= now:
            self._recent.popleft()
        return len(self._recent) + cost <= self.limit

    async def _wait_for_window(self, cost: int) -> None:
        """Until `cost` more messages fit in the last second's count."""
        while not self._window_has_room(cost, self.clock()):
            oldest = self._recent[0]
            await oldest.done.wait()
            await self._sleep_until(oldest.finished_at + WINDOW_SECONDS)

    def finished(self, ticket: Ticket) -> None:
        """The platform answered (whatever the answer)."""
        ticket.finished_at = self.clock()
        ticket.done.set()

    def _admit(self, chat_id: str, cost: int) -> Ticket:
        ticket = Ticket()
        self._recent.extend([ticket] * cost)
        sent = self._to_chat.setdefault(chat_id, deque())
        sent.extend([ticket] * cost)
        while len(sent) > self.chat_burst:
            sent.popleft()
        self._forget_idle_chats()
        return ticket

    def _chat_free(self, chat_id: str, cost: int, now: float) -> bool:
        sent = self._to_chat.get(chat_id)
        if not sent or len(sent) + cost <= self.chat_burst:
            return True
        oldest = sent[len(sent) + cost - self.chat_burst - 1]
        return oldest.done.is_set() and oldest.finished_at + self.chat_window <= now

    async def _wait_for_chat(self, chat_id: str, cost: int) -> None:
        """At most `chat_burst` messages to a chat in any `chat_window`,
        counted from when the platform answered them."""
        sent = self._to_chat.get(chat_id)
        if not sent or len(sent) + cost <= self.chat_burst:
            return
        oldest = sent[max(0, len(sent) + cost - self.chat_burst - 1)]
        await oldest.done.wait()
        await self._sleep_until(oldest.finished_at + self.chat_window)

    async def _sleep_until(self, moment: float) -> None:
        delay = moment - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def _forget_idle_chats(self) -> None:
        """Keep memory flat over a long broadcast: chats whose spacing has
        passed need no entry."""
        if len(self._to_chat) > 1024:
            now = self.clock()
            for chat, sent in list(self._to_chat.items()):
                last = sent[-1]
                if last.done.is_set() and last.finished_at + self.chat_window <= now:
                    del self._to_chat[chat]


def pacer_for(rate: ChannelRate, headroom: float = 0.0) -> ChannelPacer:
    """A bot account's pacer for its configured flood limits, leaving
    `headroom` (a fraction) of each rate unused."""
    keep = 1.0 - headroom
    limit = max(1, int(rate.per_second))  # the platform's own count per second
    return ChannelPacer(
        rate.per_second * keep,
        rate.per_chat_per_second * keep,
        rate.burst,
        limit=limit,
        per_chat_burst=rate.per_chat_burst,
    )
