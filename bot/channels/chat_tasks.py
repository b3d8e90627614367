"""Updates handled in the background, in order within a chat and side by
side across chats: how the channels that receive by polling or webhook keep
one user's messages in sequence without holding up everyone else."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class ChatOrderedTasks:
    """Runs each incoming update in the background, one chat's updates one
    after another in arrival order, different chats side by side: a
    webhook is answered at once, and a slow chat never holds up others."""

    def __init__(self) -> None:
        self._last: dict[str, asyncio.Task] = {}
        self._running: set[asyncio.Task] = set()

    def submit(self, chat_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._after(self._last.get(chat_id), work))
        self._last[chat_id] = task
        self._running.add(task)

        def forget(done: asyncio.Task) -> None:
            self._running.discard(done)
            if self._last.get(chat_id) is done:
                del self._last[chat_id]

        task.add_done_callback(forget)

    @staticmethod
    async def _after(previous: asyncio.Task | None, work: Coroutine[Any, Any, None]) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await work

    @property
    def idle(self) -> bool:
        """True when everything submitted is done."""
        return not self._running

    @property
    def busy(self) -> int:
        """How many submitted updates are waiting or being handled."""
        return len(self._running)

    async def drain(self, timeout: float = 10) -> None:
        """Wait (up to `timeout` seconds) until everything submitted is done."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._running and (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.wait(set(self._running), timeout=left)
