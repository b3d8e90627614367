"""The receive side every background adapter shares (Telegram, Zalo Bot,
Zalo OA), so they cannot drift apart: each update is handled once (a
redelivered one is dropped), in order within its chat and side by side
across chats; a failure is logged with its traceback; the dispatcher's
answer is awaited with "typing..." shown only when it is slow and the bot
is not overloaded; and when the dispatcher fails, the user gets an apology
instead of silence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any

from bot.channels.base import Handler
from bot.channels.chat_tasks import ChatOrderedTasks
from bot.channels.recent import Recent
from core.messages import Inbound, Reply
from flows.texts import texts

log = logging.getLogger(__name__)

SEEN_UPDATES = 4096  # redeliveries come within minutes; the dispatcher's own record covers the rest


def apology_in(lang: str) -> str:
    """What a channel says when the dispatcher failed."""
    return texts().get("channel.apology", lang)


# The user's language is unknown when the dispatcher failed: both languages.
APOLOGY = f"{apology_in('vi')}\n{apology_in('en')}"


@dataclass(frozen=True)
class TypingPolicy:
    """When "typing..." is shown: once an answer takes `delay_seconds`,
    renewed every `refresh_seconds` (platforms show it about 5 s), and only
    while at most `max_busy` updates wait (else the calls go to answers)."""

    delay_seconds: float = 0.5
    max_busy: int = 100
    refresh_seconds: float = 4.5


class Receiver:
    """One adapter's receive side. `show_typing(chat_id)` shows "typing..."
    in a chat (None: the platform has no such thing); `typing_allowed()`,
    if given, may veto it too (the sending budget)."""

    def __init__(
        self,
        name: str,
        *,
        show_typing: Callable[[str], Awaitable[Any]] | None = None,
        typing: TypingPolicy | None = None,
        typing_allowed: Callable[[], bool] | None = None,
    ) -> None:
        self.name = name
        self.typing = typing or TypingPolicy()
        self._show_typing = show_typing
        self._typing_allowed = typing_allowed
        self._seen: Recent = Recent(SEEN_UPDATES)
        self._work = ChatOrderedTasks()

    def submit(self, chat_key: str, work: Coroutine[Any, Any, None], *, update_key: Hashable | None = None) -> bool:
        """Run `work` in the background after the chat's earlier updates.
        An `update_key` already seen is a redelivery: dropped (False)."""
        if update_key is not None:
            if update_key in self._seen:
                work.close()
                log.info("%s: dropped a duplicated update", self.name)
                return False
            self._seen[update_key] = True
        self._work.submit(chat_key, self._logged(work))
        return True

    def seen(self, update_key: Hashable) -> bool:
        """True for an update already received (answered or being answered)."""
        return update_key in self._seen

    async def _logged(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("%s: failed to process an update", self.name)

    async def dispatch(self, handle: Handler, inbound: Inbound) -> list[Reply]:
        """The dispatcher's replies to `inbound`; the apology if it fails."""
        try:
            return await self._with_typing(inbound.chat_id, handle(inbound))
        except Exception:
            log.exception("%s: the dispatcher failed", self.name)
            return [Reply(text=APOLOGY)]

    async def _with_typing(self, chat_id: str, answer: Awaitable[list[Reply]]) -> list[Reply]:
        """`answer`, with "typing..." once it takes longer than the delay.
        A timer, not a task per message: most answers are ready long before."""
        if self._show_typing is None:
            return await answer
        typing: asyncio.Task | None = None

        def start_typing() -> None:
            nonlocal typing
            if self._work.busy <= self.typing.max_busy and (self._typing_allowed is None or self._typing_allowed()):
                typing = asyncio.create_task(self._keep_typing(chat_id))

        timer = asyncio.get_running_loop().call_later(self.typing.delay_seconds, start_typing)
        try:
            return await answer
        finally:
            timer.cancel()
            if typing is not None:
                typing.cancel()

    async def _keep_typing(self, chat_id: str) -> None:
        assert self._show_typing is not None
        while True:
            try:
                await self._show_typing(chat_id)
            except Exception as error:  # best effort: never fail an answer for it
                log.debug("%s: typing indicator failed: %s", self.name, error)
            await asyncio.sleep(self.typing.refresh_seconds)

    @property
    def idle(self) -> bool:
        """True when every update received so far has been handled."""
        return self._work.idle

    @property
    def busy(self) -> int:
        return self._work.busy

    async def drain(self, timeout: float = 10) -> None:
        """Wait (up to `timeout` seconds) until every received update is handled."""
        await self._work.drain(timeout)
