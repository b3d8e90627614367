"""Rows claimed under a lease, for the tables workers send from (the
broadcast outbox, the outbound queue): a row is due when pending and its
time has come, or in flight with a lapsed lease (its worker died); claiming
marks it in flight for one worker, skipping rows another worker holds
locked (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_, update
from sqlalchemy.sql import Select, Update

PENDING = "pending"
IN_FLIGHT = "in_flight"


def due(table: Table, now: datetime) -> ColumnElement[bool]:
    """Pending and due, or in flight with a lapsed lease."""
    return or_(
        and_(table.c.state == PENDING, table.c.next_attempt_at <= now),
        and_(table.c.state == IN_FLIGHT, table.c.lease_until < now),
    )


def claim_statement(
    table: Table,
    candidates: Select[Any],
    *,
    is_postgres: bool,
    worker_id: str,
    lease: timedelta,
    now: datetime,
    returning: list[Any],
) -> Update:
    """Mark the `candidates` (a select of ids) in flight for `worker_id`
    until `now + lease`, counting the attempt; `returning` the given columns."""
    if is_postgres:
        candidates = candidates.with_for_update(skip_locked=True, of=table)
    return (
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(state=IN_FLIGHT, claimed_by=worker_id, lease_until=now + lease, attempts=table.c.attempts + 1)
        .returning(*returning)
    )
