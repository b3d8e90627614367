"""Updates acknowledged before their turn was saved (`inbound_updates`,
revision 0014).

A webhook answers the platform within a second or two, or the platform
gives up on it, while a turn can take longer (a slow backend, a database
retry). Such an update is written here before the webhook answers, and
deleted once its turn is saved. A worker that dies in between leaves the
row; from `retry_at`, any worker claims it and handles the update again
(the turn's own record of update ids drops it if it was saved after all).

    kept --turn saved, or a duplicate--> (deleted)
      |--its worker still handling it--> renewed: retry_at moved on
      \\--retry_at passed (its worker died)--> claimed: retry_at moved on, attempts + 1
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from storage.engines import dialect_insert
from storage.schema import inbound_updates, utcnow
from storage.sql import SqlStorage

_rows = inbound_updates


@dataclass(frozen=True)
class KeptUpdate:
    update_id: str
    body: dict[str, Any]
    attempts: int  # times claimed, this one included


class InboxStore:
    """One bot account's kept updates (see the module doc)."""

    def __init__(self, storage: SqlStorage, channel: str) -> None:
        self.storage = storage
        self.channel = channel

    async def keep(self, update_id: str, chat_id: str | None, body: dict[str, Any], retry_at: datetime) -> None:
        """Keep an update until `done`; kept already, nothing changes."""
        now = utcnow()
        row = {
            "channel": self.channel,
            "update_id": update_id,
            "chat_id": chat_id,
            "body": body,
            "received_at": now,
            "retry_at": retry_at,
        }
        statement = dialect_insert(self.storage.dialect)(_rows).values(**row).on_conflict_do_nothing()
        await self._write(statement)

    async def done(self, update_id: str) -> None:
        statement = delete(_rows).where(_rows.c.channel == self.channel, _rows.c.update_id == update_id)
        await self._write(statement)

    async def renew(self, update_ids: Collection[str], retry_at: datetime) -> None:
        """Updates their keeper is still handling: nobody else claims them before `retry_at`."""
        statement = (
            update(_rows)
            .where(_rows.c.channel == self.channel, _rows.c.update_id.in_(list(update_ids)))
            .values(retry_at=retry_at)
        )
        await self._write(statement)

    async def _write(self, statement: Executable) -> None:
        await self.storage.run_sync(lambda conn: conn.execute(statement), write=True)

    async def claim_due(self, lease: timedelta, limit: int = 50) -> list[KeptUpdate]:
        """The updates whose `retry_at` has passed, each moved `lease` on
        for this claimer: two workers never claim one at the same time."""

        def claim(conn: Connection) -> list[KeptUpdate]:
            now = utcnow()
            due = (
                select(_rows.c.update_id)
                .where(_rows.c.channel == self.channel, _rows.c.retry_at <= now)
                .order_by(_rows.c.retry_at)
                .limit(limit)
            )
            statement = (
                update(_rows)
                # Re-checked on each row: of two concurrent claims, the second skips it.
                .where(_rows.c.channel == self.channel, _rows.c.update_id.in_(due), _rows.c.retry_at <= now)
                .values(retry_at=now + lease, attempts=_rows.c.attempts + 1)
                .returning(_rows.c.update_id, _rows.c.body, _rows.c.attempts)
            )
            return [KeptUpdate(row.update_id, row.body, row.attempts) for row in conn.execute(statement)]

        return await self.storage.run_sync(claim, write=True)
