"""What every channel adapter is: a thin translator between one platform and
our message model (`core.messages`), in the spirit of opsdroid's `Connector`.

An adapter
- turns platform updates into `Inbound` and passes them to `handle`
  (the dispatcher), then renders the returned replies;
- declares its `Capabilities`, so flows never ask what a platform can do;
- can `send` replies the bot starts itself (notifications, broadcasts,
  officer relays), raising the delivery errors below so that callers can
  retry, pause or mark the user unreachable without knowing the platform.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from core.messages import Capabilities, Inbound, Reply

Handler = Callable[[Inbound], Awaitable[list[Reply]]]


class DeliveryError(Exception):
    """A send failed; subclasses say what the caller should do."""


class UserUnreachable(DeliveryError):
    """The user blocked the bot or left: stop sending to them."""


class RateLimited(DeliveryError):
    """The platform asked us to slow down for `retry_after` seconds."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """A network or server error: retry later with backoff."""


class Channel(ABC):
    name: str
    capabilities: Capabilities

    def routes(self) -> list[Any]:
        """Starlette routes (webhooks) to mount on the bot's ASGI app."""
        return []

    async def start(self, handle: Handler) -> None:
        """Begin receiving (polling task or webhook registration)."""

    async def stop(self) -> None:
        """Stop receiving and release connections."""

    @abstractmethod
    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies the bot starts itself; raises `DeliveryError`s."""


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into chunks of at most `limit` characters, preferring
    paragraph, then line, then word boundaries, so nothing is cut mid-word
    unless a single word is longer than the limit."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def numbered_options(reply: Reply) -> str:
    """Render a reply's buttons as numbered lines for channels without
    buttons; the dispatcher maps a later "2" (or the words) back to the
    second button's payload."""
    buttons = reply.all_buttons
    if not buttons:
        return reply.text
    lines = [f"{number}. {button.title}" for number, button in enumerate(buttons, start=1)]
    return "\n".join(filter(None, [reply.text, "\n".join(lines)]))


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
