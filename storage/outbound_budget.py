"""The send budget the workers of one bot account share, on PostgreSQL: a
token bucket kept as one row per account (`outbound_budget`), its
theoretical arrival time advanced by each send in one statement, read
against the database server's clock so every worker counts alike.

    delay = await budget.reserve()        # seconds to wait before sending
    if await budget.try_reserve(0.2): ... # a slot within 0.2 s, or nothing taken
"""

from __future__ import annotations

from sqlalchemy import text

from storage.sql import SqlStorage

# One statement: take the next slot (at least now), move the bucket on by
# one interval; the seconds until the slot come back.
_RESERVE = text(
    """
    INSERT INTO outbound_budget AS budget (channel, next_free_at)
    VALUES (:channel, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (channel) DO UPDATE
        SET next_free_at = GREATEST(budget.next_free_at, clock_timestamp()) + make_interval(secs => :interval)
    RETURNING EXTRACT(EPOCH FROM (budget.next_free_at - clock_timestamp())) - :interval
    """
)
# The same, only if the slot comes within `margin` seconds; no row back otherwise.
_TRY_RESERVE = text(
    """
    INSERT INTO outbound_budget AS budget (channel, next_free_at)
    VALUES (:channel, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (channel) DO UPDATE
        SET next_free_at = GREATEST(budget.next_free_at, clock_timestamp()) + make_interval(secs => :interval)
        WHERE budget.next_free_at <= clock_timestamp() + make_interval(secs => :margin)
    RETURNING 1
    """
)


class SharedBudget:
    """`per_second` sends for `channel`, spaced evenly, whichever worker sends."""

    def __init__(self, storage: SqlStorage, channel: str, per_second: float) -> None:
        self.storage = storage
        self.channel = channel
        self.interval = 1.0 / per_second

    async def reserve(self) -> float:
        """Take the next slot; the seconds to wait for it (0 when it is now)."""
        async with self.storage.transaction(write=True) as conn:
            delay = (await conn.execute(_RESERVE, {"channel": self.channel, "interval": self.interval})).scalar_one()
        return max(0.0, float(delay))

    async def try_reserve(self, margin: float) -> bool:
        """Take a slot only if one comes within `margin` seconds."""
        params = {"channel": self.channel, "interval": self.interval, "margin": margin}
        async with self.storage.transaction(write=True) as conn:
            return (await conn.execute(_TRY_RESERVE, params)).first() is not None
