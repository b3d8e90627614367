"""How each channel's connection stands, for `/healthz` and the logs, and
`supervise`, which keeps a channel's background work (connecting, polling,
getting a token) alive: a failure nobody expected is logged with its
traceback, shown in the channel's health, and the work starts again after a
growing delay. A channel never dies silently."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)

REASON_LENGTH = 300
# Bot API URLs carry the token (<base>/bot<TOKEN>/<method>); an error's text may quote one.
_TOKEN_IN_URL = re.compile(r"/bot[^/\s]+/")


class Connection(StrEnum):
    STARTING = "starting"
    CONNECTED = "connected"
    RETRYING = "retrying"
    OFF = "off"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ChannelHealth:
    """A channel's connection: since when it is in its state and why
    (retrying: the latest failure; off: what an operator must fix)."""

    state: Connection = Connection.CONNECTED
    since: datetime = field(default_factory=_now)
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is Connection.CONNECTED

    def starting(self) -> None:
        self._set(Connection.STARTING, None)

    def connected(self) -> None:
        self._set(Connection.CONNECTED, None)

    def retrying(self, reason: str) -> None:
        self._set(Connection.RETRYING, reason)

    def off(self, reason: str) -> None:
        self._set(Connection.OFF, reason)

    def _set(self, state: Connection, reason: str | None) -> None:
        if state is not self.state:
            self.state, self.since = state, _now()
        self.reason = None if reason is None else _TOKEN_IN_URL.sub("/bot<token>/", reason)[:REASON_LENGTH]

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state.value, "since": self.since.isoformat(timespec="seconds"), "reason": self.reason}


def describe(error: BaseException) -> str:
    """An error as a health reason: its type, then its message."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def supervise(
    name: str,
    health: ChannelHealth,
    work: Callable[[], Awaitable[None]],
    *,
    first_delay: float = 1.0,
    max_delay: float = 60.0,
) -> None:
    """Run `work` until it returns (its job is done, or the channel turned
    itself off). An unexpected exception is logged with its traceback, the
    channel shows as retrying, and `work` runs again after a delay that
    doubles up to `max_delay` (back to `first_delay` once a run lasted
    that long: a fresh failure, not the same one again)."""
    loop = asyncio.get_running_loop()
    delay = first_delay
    while True:
        started = loop.time()
        try:
            await work()
            return
        except Exception as error:
            if loop.time() - started >= max_delay:
                delay = first_delay
            health.retrying(describe(error))
            log.exception("%s: background work failed unexpectedly; retrying in %.1f s", name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
