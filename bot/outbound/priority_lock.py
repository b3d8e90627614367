"""A lock with two queues: urgent holders are served before bulk ones.

The pacer admits sends one at a time under it, so a reply someone waits
for never queues behind the rest of an announcement."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class PriorityLock:
    def __init__(self) -> None:
        self._locked = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._bulk: deque[asyncio.Future[None]] = deque()

    @property
    def urgent_waiting(self) -> int:
        return sum(not waiter.done() for waiter in self._urgent)

    @property
    def waiting(self) -> int:
        """Holders waiting for it, urgent or bulk."""
        return sum(not waiter.done() for waiter in (*self._urgent, *self._bulk))

    @contextlib.asynccontextmanager
    async def held(self, urgent: bool) -> AsyncIterator[None]:
        await self.acquire(urgent)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, urgent: bool) -> None:
        if not self._locked and not self._urgent and (urgent or not self._bulk):
            self._locked = True
            return
        queue = self._urgent if urgent else self._bulk
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over as we were cancelled: pass it on
            else:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter, urgent ones first; else unlock."""
        for queue in (self._urgent, self._bulk):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._locked = False
