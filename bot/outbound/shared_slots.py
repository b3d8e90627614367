"""A worker's side of the send budget its bot account shares with the other
workers (`storage/outbound_budget.py`): slots taken from the database in
blocks and spent here without a round trip each.

A block is sized to what this worker sends (the sends waiting, plus those of
the last `RECENT_SECONDS`), at most `BLOCK_SECONDS` of the shared rate. Its
slots are spent from its first slot on (a webhook response's message: up to
its margin before), as the sends come; a block not spent within
`STALE_SECONDS` lapses. A webhook response's message, which cannot wait for
a round trip, may borrow a slot when none is held, repaid by the next block
(taken in the background). So a worker's sends run behind the shared row
by at most the block it holds, and ahead of it by at most that block and
what it owes: in any second the platform sees at most the shared rate plus
three blocks per worker; with two workers, 0.97 + 6 x 0.005 of the rate at
the 97 % share (`bot/outbound/account.py`). At Telegram's 30/s a block is
one slot and nothing is borrowed: each send takes its own slot, as when
they were not grouped (a webhook response's message with one round trip).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from storage.outbound_budget import SharedBudget

log = logging.getLogger(__name__)

BLOCK_SECONDS = 0.005
RECENT_SECONDS = 0.02
STALE_SECONDS = 1.0
ANY_TIME = float("inf")  # a send that may wait takes a held slot however far off it is


class Block:
    __slots__ = ("left", "start")

    def __init__(self, start: float, left: int) -> None:
        self.start = start  # monotonic time of its first slot
        self.left = left


class SharedSlots:
    """Slots of `budget` for this worker's pacer. A database error is logged
    and the send paced on this worker's own count meanwhile."""

    def __init__(self, budget: SharedBudget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.clock = clock
        self.max_block = max(1, int(budget.per_second * BLOCK_SECONDS))
        self.round_trips = 0
        self._blocks: deque[Block] = deque()
        self._spent: deque[float] = deque(maxlen=4 * self.max_block)  # when the latest slots were spent
        self._refill: asyncio.Task | None = None  # a block being taken in the background
        self._debt = 0  # slots spent ahead of taking them

    async def slot(self, waiting: int) -> float:
        """The monotonic time at which a send may go (now or later): a held
        slot, else the first of a new block sized for `waiting` more sends."""
        if self._refill is not None and not self._refill.done() and self._stock(self.clock(), ANY_TIME) == 0:
            await asyncio.shield(self._refill)  # a block is on its way: no second one
        start = self.take(ANY_TIME)
        if start is not None:
            return start
        count = self._block_size(waiting)
        try:
            delay = await self.budget.reserve(count)
        except Exception:  # the database is away
            log.warning("pacing: the shared send budget is unavailable", exc_info=True)
            return self.clock()
        self._add(delay, count)
        return self.take(ANY_TIME) or self.clock()

    def take_now(self, margin: float, waiting: int) -> bool:
        """Spend a held slot that comes within `margin` seconds, without a
        round trip (a webhook response cannot wait for one), or borrow one
        (up to a block less one, repaid from the next block); False if
        neither. The next block is taken in the background when none is
        held or owed, or, while sends are steady, when the stock runs low."""
        taken = self.take(margin) is not None
        if not taken and self._debt < self.max_block - 1:
            self._debt += 1
            self._spent.append(self.clock())
            taken = True
        if self._debt or self._stock(self.clock(), margin) <= self._recent():
            self._prefetch(margin, waiting)
        return taken

    async def take_for_rider(self, margin: float, waiting: int) -> bool:
        """A slot for a webhook response's message: held or borrowed without
        a round trip (`take_now`); at a rate whose block is one slot, where
        nothing may be borrowed, taken from the database now if one comes
        within `margin` (one round trip: the reply still rides)."""
        if self.max_block > 1:
            return self.take_now(margin, waiting)
        if self.take(margin) is not None:
            return True
        await self._hold(margin, 1)
        return self.take(margin) is not None

    def take(self, margin: float) -> float | None:
        """Spend a held slot that comes within `margin` seconds: when it
        may go (now at the earliest), or None if none is held."""
        now = self.clock()
        self._drop_lapsed(now)
        if not self._blocks or self._blocks[0].start > now + margin:
            return None
        block = self._blocks[0]
        block.left -= 1
        if not block.left:
            self._blocks.popleft()
        self._spent.append(now)
        return max(now, block.start)

    def _prefetch(self, margin: float, waiting: int) -> None:
        if self._refill is None or self._refill.done():
            self._refill = asyncio.create_task(self._hold(margin, self._block_size(waiting)))

    async def _hold(self, margin: float, count: int) -> None:
        try:
            delay = await self.budget.try_reserve(margin, count)
        except Exception:
            log.warning("pacing: the shared send budget is unavailable", exc_info=True)
            return
        if delay is not None:
            self._add(delay, count)

    def _drop_lapsed(self, now: float) -> None:
        while self._blocks and self._blocks[0].start + STALE_SECONDS < now:
            self._blocks.popleft()

    def _stock(self, now: float, margin: float) -> int:
        self._drop_lapsed(now)
        return sum(block.left for block in self._blocks if block.start <= now + margin)

    def _add(self, delay: float, count: int) -> None:
        """A block taken: what was borrowed is repaid from it first."""
        self.round_trips += 1
        repaid = min(self._debt, count)
        self._debt -= repaid
        count -= repaid
        if not count:
            return
        self._blocks.append(Block(self.clock() + delay, count))

    def _recent(self) -> int:
        """Slots spent in the last `RECENT_SECONDS`."""
        since = self.clock() - RECENT_SECONDS
        count = 0
        for at in reversed(self._spent):
            if at < since:
                break
            count += 1
        return count

    def _block_size(self, waiting: int) -> int:
        return self._debt + max(1, min(self.max_block, 1 + waiting + self._recent()))
