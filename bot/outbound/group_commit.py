"""Group commit: items submitted while a write is in flight go together in
the next one. A lone item is written at once (no added latency when the
load is light); under load the writes per item fall with the load.

    deletes = GroupCommit(lambda ids: store.sent_many(worker, ids))
    await deletes.submit(row_id)   # returns once its batch is written (or raises its error)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[object]]) -> None:
        self._write = write
        self._items: list[T] = []  # waiting for the next write
        self._written: asyncio.Future[None] | None = None  # settles when they are written
        self._writer: asyncio.Task | None = None
        self.writes = 0

    async def submit(self, item: T) -> None:
        self._items.append(item)
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        written = self._written
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await asyncio.shield(written)  # a submitter cancelled (stopping) leaves the write to finish

    async def _write_all(self) -> None:
        while self._items:
            items, self._items = self._items, []
            written, self._written = self._written, None
            assert written is not None
            try:
                await self._write(items)
            except Exception as error:
                written.set_exception(error)
                written.exception()  # retrieved: each submitter gets it
            else:
                written.set_result(None)
            finally:
                if not written.done():  # cancelled mid-write: its submitters are told
                    written.cancel()
            self.writes += 1

    async def close(self) -> None:
        """Wait for the write in flight, if any."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
