"""The send budget the workers of one bot account share, on PostgreSQL: a
token bucket kept as one row per account (`outbound_budget`), its
theoretical arrival time advanced in one statement, read against the
database server's clock so every worker counts alike. A worker may take
several slots at once (a block), one round trip for all of them.

    delay = await budget.reserve(count)          # seconds until the first of `count` slots
    delay = await budget.try_reserve(0.2, count) # the same if it comes within 0.2 s, else None (nothing taken)
"""

from __future__ import annotations

from sqlalchemy import text

from storage.pg_turn import DriverStatement, one_row
from storage.side_connection import SideConnection
from storage.sql import SqlStorage

# One statement: take `count` slots from the next free one (at least now),
# moving the bucket on by `span` (count intervals); the seconds until the
# first slot come back.
_RESERVE = DriverStatement(
    text(
        """
    INSERT INTO outbound_budget AS budget (channel, next_free_at)
    VALUES (:channel, clock_timestamp() + make_interval(secs => :span))
    ON CONFLICT (channel) DO UPDATE
        SET next_free_at = GREATEST(budget.next_free_at, clock_timestamp()) + make_interval(secs => :span)
    RETURNING EXTRACT(EPOCH FROM (budget.next_free_at - clock_timestamp())) - :span
    """
    )
)
# The same, only if the first slot comes within `margin` seconds; no row back otherwise.
_TRY_RESERVE = DriverStatement(
    text(
        """
    INSERT INTO outbound_budget AS budget (channel, next_free_at)
    VALUES (:channel, clock_timestamp() + make_interval(secs => :span))
    ON CONFLICT (channel) DO UPDATE
        SET next_free_at = GREATEST(budget.next_free_at, clock_timestamp()) + make_interval(secs => :span)
        WHERE budget.next_free_at <= clock_timestamp() + make_interval(secs => :margin)
    RETURNING EXTRACT(EPOCH FROM (budget.next_free_at - clock_timestamp())) - :span
    """
    )
)


class SharedBudget:
    """`per_second` sends for `channel`, spaced evenly, whichever worker
    sends; its statements run on a connection of its own (`SideConnection`),
    whose commits do not wait for the disk: a database crash may forget the
    last instants' sends, and the platform then answers a few of the next
    ones 429, which the queue retries."""

    def __init__(self, storage: SqlStorage, channel: str, per_second: float) -> None:
        self.channel = channel
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self._connection = SideConnection(storage.url, durable=False)

    async def reserve(self, count: int = 1) -> float:
        """Take the next `count` slots; the seconds to wait for the first
        (0 when it is now); the others follow one interval apart."""
        row = await self._connection.fetchrow(_RESERVE, {"channel": self.channel, "span": count * self.interval})
        return max(0.0, float(one_row(row)[0]))

    async def try_reserve(self, margin: float, count: int = 1) -> float | None:
        """Take `count` slots only if the first comes within `margin` seconds:
        the seconds until it, or None (nothing taken)."""
        params = {"channel": self.channel, "span": count * self.interval, "margin": margin}
        row = await self._connection.fetchrow(_TRY_RESERVE, params)
        return None if row is None else max(0.0, float(row[0]))

    async def close(self) -> None:
        await self._connection.close()
