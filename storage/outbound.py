"""The outbound queue (`outbound_messages`, revision 0011): every reply and
notice of a bot account, written down before its update is acknowledged,
so that a worker's crash loses none (`bot/outbound/queue.py` sends them).

A row holds one turn's replies for one chat. Rows of a chat go out in
order: a row may be claimed only when no earlier row of its chat is still
open. On PostgreSQL the candidates are locked with `FOR UPDATE SKIP
LOCKED`, so workers take different rows without waiting; on SQLite the
claim runs in the process's single write transaction.

    put, or saved with its turn (`Storage.save_turn`):
        in_flight for the writer, or pending behind an earlier row
    pending --claim--> in_flight --sent--> (deleted)
       ^                   |  \\--403 / chat not found--> unreachable
       +--429, network ----+   \\--older than max age----> expired
A row in flight whose lease ran out (its worker died) is claimed again.
Given-up rows keep no content, only their state, to be counted.

A turn answered in its webhook response writes its row `riding`, with the
update's id: it blocks no later row and no lease brings it back, since the
platform itself delivers the update again when its worker dies before
responding, and that copy makes the row in flight (`unride_update`). Once
the response went, riding rows are deleted in bulk; when the reply cannot
ride after all, the row is made in flight (`unride`) before the update is
acknowledged.

    riding --response written--> (deleted in bulk)
       +--cannot ride, or the update delivered again--> in_flight
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, any_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable

from storage import leases
from storage.outbound_rows import OPEN_STATES, NewOutgoing, OutboundState, insert_outgoing
from storage.pg_turn import DriverStatement
from storage.schema import outbound_messages, outbound_pictures, utcnow
from storage.side_connection import SideConnection
from storage.sql import SqlStorage

ERROR_LIMIT = 200
_rows = outbound_messages
_pictures = outbound_pictures


@dataclass(frozen=True)
class Outgoing:
    """One queued row, as claimed."""

    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    done_parts: int
    attempts: int
    created_at: datetime
    pictures: dict[str, bytes]  # by digest: those its payload names (and maybe more)


# Rows sent, deleted in one statement (PostgreSQL, on the store's own connection).
_DELETE_SENT = DriverStatement(
    delete(_rows).where(
        _rows.c.id == any_(bindparam("ids", type_=ARRAY(Integer))), _rows.c.claimed_by == bindparam("worker_id")
    )
)


class OutboundStore:
    def __init__(self, storage: SqlStorage) -> None:
        self.storage = storage
        # On PostgreSQL the deletes of sent rows, one per message or group,
        # take one round trip on a connection of their own.
        self._side = SideConnection(storage.url) if storage.is_postgres else None

    async def put(
        self,
        channel: str,
        chat_id: str,
        payload: dict[str, Any],
        *,
        worker_id: str,
        lease: timedelta,
        priority: int = 0,
        pictures: Mapping[str, bytes] | None = None,
        now: datetime | None = None,
    ) -> tuple[int, bool]:
        """Write a chat's replies down (with the `pictures` the payload names
        by digest); returns (row id, claimed): claimed for `worker_id` to
        send at once, unless an earlier row of the chat is still open (then
        it waits its turn as pending)."""
        new = NewOutgoing(channel, chat_id, payload, worker_id, lease, priority, pictures or {})
        queued = await self.storage.run_sync(insert_outgoing, new, now or utcnow(), write=True)
        return queued.row_id, queued.mine

    async def claim(
        self, channel: str, worker_id: str, limit: int, lease: timedelta, now: datetime | None = None
    ) -> list[Outgoing]:
        """Take up to `limit` due rows of `channel`, each the oldest open row
        of its chat: pending and due, or in flight with a lapsed lease.
        Replies (lower priority number) first, then oldest first."""
        now = now or utcnow()
        earlier = aliased(_rows)
        head_of_chat = ~exists().where(
            earlier.c.channel == _rows.c.channel,
            earlier.c.chat_id == _rows.c.chat_id,
            earlier.c.id < _rows.c.id,
            earlier.c.state.in_(OPEN_STATES),
        )
        candidates = (
            select(_rows.c.id)
            .where(_rows.c.channel == channel, leases.due(_rows, now), head_of_chat)
            .order_by(_rows.c.priority, _rows.c.id)
            .limit(limit)
        )
        columns = ("id", "channel", "chat_id", "payload", "done_parts", "attempts", "created_at", "pictures")
        claim = leases.claim_statement(
            _rows,
            candidates,
            is_postgres=self.storage.is_postgres,
            worker_id=worker_id,
            lease=lease,
            now=now,
            returning=[_rows.c[name] for name in columns],
        )

        def claim_with_pictures(conn: Connection) -> list[Outgoing]:
            rows = conn.execute(claim).all()
            named = {digest for row in rows for digest in (row.pictures or "").split()}
            pictures: dict[str, bytes] = {}
            if named:
                found = conn.execute(select(_pictures.c.digest, _pictures.c.png).where(_pictures.c.digest.in_(named)))
                pictures = dict(found.all())
            return [
                Outgoing(
                    row.id,
                    row.channel,
                    row.chat_id,
                    row.payload,
                    row.done_parts,
                    row.attempts,
                    row.created_at,
                    pictures,
                )
                for row in rows
            ]

        claimed = await self.storage.run_sync(claim_with_pictures, write=True)
        return sorted(claimed, key=lambda row: row.id)

    async def unride(self, worker_id: str, row_id: int, lease: timedelta) -> None:
        """The row's last reply will not ride after all: in flight, so that
        whoever starts next sends it if this worker dies."""
        await self._write(
            update(_rows)
            .where(_rows.c.id == row_id, _rows.c.claimed_by == worker_id, _rows.c.state == OutboundState.RIDING.value)
            .values(state=OutboundState.IN_FLIGHT.value, lease_until=utcnow() + lease)
        )

    async def unride_update(self, channel: str, chat_id: str, update_id: str) -> bool:
        """The platform delivered `update_id` again: its riding row, if any,
        is made in flight under its writer's lease. A writer still alive
        answers it and deletes it as before; a dead one's lease lapses and
        another worker sends it. True if there was one."""
        return bool(
            await self._write(
                update(_rows)
                .where(
                    _rows.c.channel == channel,
                    _rows.c.chat_id == chat_id,
                    _rows.c.update_id == update_id,
                    _rows.c.state == OutboundState.RIDING.value,
                )
                .values(state=OutboundState.IN_FLIGHT.value)
            )
        )

    async def renew(self, worker_id: str, ids: Sequence[int], lease: timedelta) -> None:
        """Extend this worker's leases on rows it is still sending."""
        if not ids:
            return
        await self._write(
            update(_rows)
            .where(_rows.c.id.in_(list(ids)), _rows.c.claimed_by == worker_id)
            .values(lease_until=utcnow() + lease)
        )

    async def sent_many(self, worker_id: str, row_ids: Sequence[int]) -> None:
        """Several rows delivered, in one statement (the queue's group
        commit, or its bulk delete of riding rows whose response went)."""
        if self._side is not None:
            await self._side.fetchrow(_DELETE_SENT, {"ids": list(row_ids), "worker_id": worker_id})
            return
        await self._write(delete(_rows).where(_rows.c.id.in_(list(row_ids)), _rows.c.claimed_by == worker_id))

    async def close(self) -> None:
        """Close the store's own connection, if it has one."""
        if self._side is not None:
            await self._side.close()

    async def progress(self, worker_id: str, row_id: int, done_parts: int) -> None:
        """The row's first `done_parts` replies are delivered."""
        await self._write(
            update(_rows).where(_rows.c.id == row_id, _rows.c.claimed_by == worker_id).values(done_parts=done_parts)
        )

    async def retry_later(self, worker_id: str, row_id: int, *, done_parts: int, at: datetime, error: str) -> None:
        """Back to pending, to go at `at`, its first `done_parts` replies not again."""
        await self._write(
            update(_rows)
            .where(_rows.c.id == row_id, _rows.c.claimed_by == worker_id)
            .values(
                state=OutboundState.PENDING.value,
                done_parts=done_parts,
                next_attempt_at=at,
                claimed_by=None,
                lease_until=None,
                last_error=error[:ERROR_LIMIT],
            )
        )

    async def give_up(self, worker_id: str, row_id: int, state: OutboundState, error: str) -> None:
        """Never to be sent (`state`: unreachable or failed); the content goes."""
        await self._write(
            update(_rows)
            .where(_rows.c.id == row_id, _rows.c.claimed_by == worker_id)
            .values(state=state.value, payload=None, claimed_by=None, lease_until=None, last_error=error[:ERROR_LIMIT])
        )

    async def expire(self, max_age: timedelta, now: datetime | None = None) -> int:
        """Give up rows older than `max_age` that nobody is sending now;
        returns how many. Riding rows that old are deleted, not counted:
        their response most likely went, and the worker died before the
        bulk delete (a platform keeps an unanswered update a day at most)."""
        now = now or utcnow()
        idle = or_(
            _rows.c.state == OutboundState.PENDING.value,
            and_(_rows.c.state == OutboundState.IN_FLIGHT.value, _rows.c.lease_until < now),
        )
        old = _rows.c.created_at < now - max_age
        await self._write(delete(_rows).where(old, _rows.c.state == OutboundState.RIDING.value))
        return await self._write(
            update(_rows)
            .where(old, idle)
            .values(state=OutboundState.EXPIRED.value, payload=None, claimed_by=None, lease_until=None)
        )

    async def forget_pictures(self, unused_for: timedelta, now: datetime | None = None) -> int:
        """Delete pictures stored over `unused_for` ago that no row with
        content names any more; returns how many. A turn naming one at the
        same instant may lose it (the reply then goes without it), so
        `unused_for` is long: the queue's max age."""
        named = exists().where(_rows.c.payload.is_not(None), _rows.c.pictures.contains(_pictures.c.digest))
        before = (now or utcnow()) - unused_for
        return await self._write(delete(_pictures).where(_pictures.c.stored_at < before, ~named))

    async def counts(self, channel: str) -> dict[str, int]:
        """Rows per state (sent rows are gone): what waits and what was given up."""
        async with self.storage.transaction() as conn:
            rows = (
                await conn.execute(
                    select(_rows.c.state, func.count()).where(_rows.c.channel == channel).group_by(_rows.c.state)
                )
            ).all()
        return {str(state): int(count) for state, count in rows}

    async def _write(self, statement: Executable) -> int:
        """One statement in its own short transaction (on SQLite on the event
        loop: a reply's bookkeeping never queues behind aiosqlite's thread
        hand-offs); the rows it changed."""
        return await self.storage.run_sync(lambda conn: conn.execute(statement).rowcount or 0, write=True)
