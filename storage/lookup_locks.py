"""Wrong status-lookup proofs per request code (`lookup_lockouts`), whoever
sent them: `limit` failures within `window` lock the code for `window` from
the last one. Synchronous Core, run by `SqlStorage.run_sync` (so inside a
PostgreSQL turn, on the turn's connection). The count is one atomic upsert,
so workers failing at once each count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.engine import Connection

from storage.engines import Insert
from storage.schema import UtcDateTime, lookup_lockouts

table = lookup_lockouts


def locked_until(conn: Connection, code_hash: str, now: datetime) -> datetime | None:
    """When the code's lock-out ends, if it is locked at `now`."""
    until = conn.execute(select(table.c.locked_until).where(table.c.code_hash == code_hash)).scalar()
    return until if until is not None and until > now else None


def record_failure(
    conn: Connection, insert: Insert, code_hash: str, limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """Count one wrong proof for the code; when the lock-out ends if it is
    (now or already) locked."""
    if (until := locked_until(conn, code_hash, now)) is not None:
        return until
    cutoff = now - window
    stale = table.c.window_start <= cutoff
    moment = literal(now, UtcDateTime())
    conn.execute(
        insert(table)
        .values(code_hash=code_hash, failures=1, window_start=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[table.c.code_hash],
            set_={
                "failures": case((stale, 1), else_=table.c.failures + 1),
                "window_start": case((stale, moment), else_=table.c.window_start),
                "locked_until": None,
            },
        )
    )
    conn.execute(
        update(table).where(table.c.code_hash == code_hash, table.c.failures >= limit).values(locked_until=now + window)
    )
    # Old rows of other codes go as they expire: the table stays small.
    conn.execute(
        delete(table).where(
            table.c.window_start <= cutoff,
            or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
            table.c.code_hash != code_hash,
        )
    )
    return locked_until(conn, code_hash, now)
