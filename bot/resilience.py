"""Riding out a briefly unavailable database (a PostgreSQL restart or
fail-over, a dropped connection, a busy SQLite file).

`retry_transient(call)` repeats a whole dialogue turn with exponential
backoff when the database, not the input, was the problem. Repeating a
turn is safe: the conversation is saved with an optimistic version check
and the platform update id is recorded with it, so a turn either committed
(and a repeat sees the newer state) or did not (and is simply redone).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError

log = logging.getLogger(__name__)
T = TypeVar("T")

# 0.2 + 0.4 + 0.8 + 1.6 + 2 s: a PostgreSQL restart takes one to three seconds.
ATTEMPTS = 6
FIRST_PAUSE = 0.2
MAX_PAUSE = 2.0


def is_transient(error: BaseException) -> bool:
    """True for connection-level failures worth repeating; never for a bad
    query or a constraint, which would fail the same way again."""
    if isinstance(error, (IntegrityError, ProgrammingError, DataError)):
        return False
    if isinstance(error, DBAPIError):
        return True  # OperationalError, InterfaceError, a dropped or refused connection
    return isinstance(error, (ConnectionError, OSError, TimeoutError))


async def retry_transient(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
    first_pause: float = FIRST_PAUSE,
    max_pause: float = MAX_PAUSE,
) -> T:
    """`await call()`, repeated with backoff while it fails transiently;
    the last error is raised once `attempts` are used up."""
    pause = first_pause
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            log.warning(
                "database unavailable (%s); retry %d/%d in %.1f s", type(error).__name__, attempt, attempts - 1, pause
            )
            await asyncio.sleep(pause * (0.75 + random.random() / 2))
            pause = min(pause * 2, max_pause)
    raise AssertionError("unreachable")
