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

`ChannelPacer` also pauses the whole channel after a 429.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]
WINDOW_SECONDS = 1.0


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.interval = 1.0 / rate
        self.burst = burst
        self.clock = clock
        self._arrival = 0.0  # when the bucket would be exactly empty again

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
    """Paces one channel: `per_second` overall (bucket with `burst`, and at
    most `limit` per second as the platform counts them), and
    `per_chat_per_second` to any one chat; nothing while paused.

        ticket = await pacer.acquire(chat_id)
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
        clock: Clock = time.monotonic,
    ) -> None:
        self.clock = clock
        self.bucket = TokenBucket(per_second, burst, clock)
        self.limit = limit or max(1, int(per_second))
        self.chat_interval = 1.0 / per_chat_per_second
        self._recent: deque[Ticket] = deque()  # the latest sends, oldest first (one entry per message)
        self._last_to_chat: dict[str, Ticket] = {}
        self._dispatch = asyncio.Lock()  # sends leave in the order they were admitted
        self._paused_until = 0.0
        self.pauses = 0

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """The platform said "too many requests": nothing goes out on this
        channel for `seconds`."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def acquire(self, chat_id: str, cost: int = 1) -> Ticket:
        """Wait until a send of `cost` platform messages to `chat_id` may go."""
        async with self._dispatch:
            while True:
                previous = self._last_to_chat.get(chat_id)
                if previous is not None:
                    await previous.done.wait()
                    await self._sleep_until(previous.finished_at + self.chat_interval)
                while len(self._recent) + cost > self.limit:
                    oldest = self._recent[0]
                    await oldest.done.wait()
                    await self._sleep_until(oldest.finished_at + WINDOW_SECONDS)
                    self._recent.popleft()
                await self._sleep_until(self.bucket.reserve(cost, not_before=self._paused_until))
                if self.clock() >= self._paused_until:
                    break
                # Paused while we waited: queue again after the pause.
            ticket = Ticket()
            self._recent.extend([ticket] * cost)
            self._last_to_chat[chat_id] = ticket
            self._forget_idle_chats()
            return ticket

    def finished(self, ticket: Ticket) -> None:
        """The platform answered (whatever the answer)."""
        ticket.finished_at = self.clock()
        ticket.done.set()

    async def _sleep_until(self, moment: float) -> None:
        delay = moment - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def _forget_idle_chats(self) -> None:
        """Keep memory flat over a long broadcast: chats whose spacing has
        passed need no entry."""
        if len(self._last_to_chat) > 1024:
            now = self.clock()
            for chat, ticket in list(self._last_to_chat.items()):
                if ticket.done.is_set() and ticket.finished_at + self.chat_interval <= now:
                    del self._last_to_chat[chat]
