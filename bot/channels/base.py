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

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any

from bot.channels.health import ChannelHealth
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

    @cached_property
    def health(self) -> ChannelHealth:
        """How the channel's connection stands (`/healthz`): connected,
        unless an adapter with background work reports otherwise."""
        return ChannelHealth()

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

    async def deliver(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """A notice the user must get (a request's new status): through the
        bot account's outbound queue, written down first and never lost to
        a 429 (`bot/outbound/`). A channel without a queue sends it now,
        raising `DeliveryError`s."""
        await self.send(chat_id, replies)
