"""Broadcasts and their outbox in the bot's database (tables in
`storage/schema.py`, revision 0002), through `SqlStorage.transaction`; the
delivery workers (`bot.broadcast.worker`) claim and settle the outbox rows.

Claiming is the one concurrency-sensitive step: on PostgreSQL the candidate
rows are locked with `FOR UPDATE SKIP LOCKED`, so workers in several
processes each take different rows without waiting; on SQLite the claim runs
in a `BEGIN IMMEDIATE` transaction, which holds the database's single write
lock from the first read, so two claims cannot interleave.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, false, func, literal, select, true, update

from storage import leases
from storage.broadcasts.model import (
    Broadcast,
    BroadcastStatus,
    Delivery,
    DeliveryState,
    Report,
    Segment,
    SegmentError,
)
from storage.broadcasts.segments import recipients_query
from storage.schema import UtcDateTime, as_aware_utc, broadcast_deliveries, broadcasts, subscriptions, users, utcnow
from storage.sql import SqlStorage

# Looks up the current status of request codes (the backend client or the
# statuses its webhooks reported); needed only for `following=<status>`.
StatusResolver = Callable[[Sequence[str]], Awaitable[Mapping[str, str]]]

ERROR_LIMIT = 200  # characters of the last error kept on a row (no personal data: error class + message)

_deliveries = broadcast_deliveries


@dataclass(frozen=True)
class Outcome:
    """The result of one send attempt, to persist."""

    delivery_id: int
    state: DeliveryState  # SENT, UNREACHABLE, FAILED, or PENDING for a retry
    retry_at: datetime | None = None
    error: str | None = None
    refund_attempt: bool = False  # a 429 or a stop is not the row's fault: do not count it


class BroadcastStore:
    """Create, schedule, cancel and report broadcasts; claim and settle
    outbox rows for the delivery workers."""

    def __init__(self, storage: SqlStorage, *, status_resolver: StatusResolver | None = None) -> None:
        self.storage = storage
        self.status_resolver = status_resolver

    # --- broadcasts ------------------------------------------------------
    async def create(
        self,
        *,
        created_by: str,
        text: str,
        segment: Segment,
        image: bytes | None = None,
        link: tuple[str, str] | None = None,
        at: datetime | None = None,
        now: datetime | None = None,
        draft: bool = False,
    ) -> Broadcast:
        """Record a broadcast (audited). Without `at`, or with `at` already
        past, its recipients are chosen and written to the outbox at once;
        otherwise when `start_due` runs after `at`. A `draft` waits for
        `confirm`."""
        now = now or utcnow()
        if not text.strip():
            raise ValueError("a broadcast needs a text")
        if segment.following and not set(segment.following) <= {"any"} and self.status_resolver is None:
            raise SegmentError("following=<status> needs the backend's request statuses; use following=any")
        values = {
            "created_by": created_by,
            "text": text,
            "image": image,
            "link_title": link[0] if link else None,
            "link_url": link[1] if link else None,
            "segment": segment.to_json(),
            "status": (BroadcastStatus.DRAFT if draft else BroadcastStatus.SCHEDULED).value,
            "scheduled_at": at or now,
            "created_at": now,
        }
        async with self.storage.transaction(write=True) as conn:
            inserted = await conn.execute(broadcasts.insert().values(**values).returning(broadcasts.c.id))
            broadcast_id = inserted.scalar_one()
        await self.storage.audit(
            created_by,
            "broadcast.created",
            {
                "broadcast": broadcast_id,
                "segment": segment.describe(),
                "at": (at or now).isoformat(),
                "image": bool(image),
                "draft": draft,
            },
        )
        if not draft and (at or now) <= now:
            await self.start_due(now=now)
        created = await self.get(broadcast_id)
        assert created is not None, "a broadcast just written is there"
        return created

    async def confirm(self, broadcast_id: int, actor: str) -> Broadcast | None:
        """Send a draft (at its scheduled time, or now if that has passed);
        None if it is not a draft any more (already confirmed or cancelled)."""
        async with self.storage.transaction(write=True) as conn:
            confirmed = await conn.execute(
                update(broadcasts)
                .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == BroadcastStatus.DRAFT.value)
                .values(status=BroadcastStatus.SCHEDULED.value)
            )
        if confirmed.rowcount != 1:
            return None
        await self.storage.audit(actor, "broadcast.confirmed", {"broadcast": broadcast_id})
        await self.start_due()
        return await self.get(broadcast_id)

    async def start_due(self, now: datetime | None = None) -> list[int]:
        """Write the outbox of every scheduled broadcast whose time has come;
        returns their ids. Safe to run from several workers at once."""
        now = now or utcnow()
        async with self.storage.transaction() as conn:
            due = (
                await conn.execute(
                    select(broadcasts.c.id, broadcasts.c.segment).where(
                        broadcasts.c.status == BroadcastStatus.SCHEDULED.value, broadcasts.c.scheduled_at <= now
                    )
                )
            ).all()
        started = []
        for broadcast_id, segment_json in due:
            segment = Segment.from_json(segment_json)
            request_codes = await self._request_codes(segment)
            async with self.storage.transaction(write=True) as conn:
                claimed = await conn.execute(
                    update(broadcasts)
                    .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == BroadcastStatus.SCHEDULED.value)
                    .values(status=BroadcastStatus.SENDING.value, started_at=now)
                )
                if claimed.rowcount != 1:
                    continue  # another worker started it
                chosen = recipients_query(segment, request_codes)
                rows = select(
                    literal(broadcast_id).label("broadcast_id"),
                    chosen.c.channel,
                    chosen.c.user_id,
                    chosen.c.chat_id,
                    literal(DeliveryState.PENDING.value).label("state"),
                    literal(0).label("attempts"),
                    literal(now, UtcDateTime()).label("next_attempt_at"),
                )
                columns = ["broadcast_id", "channel", "user_id", "chat_id", "state", "attempts", "next_attempt_at"]
                inserted = await conn.execute(_deliveries.insert().from_select(columns, rows))
                await conn.execute(
                    update(broadcasts).where(broadcasts.c.id == broadcast_id).values(recipients=inserted.rowcount)
                )
            started.append(broadcast_id)
        return started

    async def _request_codes(self, segment: Segment) -> list[str] | None:
        """The request codes whose followers are in the segment, or None
        when the segment does not filter by request status."""
        wanted = set(segment.following) - {"any"}
        if not wanted:
            return None
        async with self.storage.transaction() as conn:
            codes = list((await conn.execute(select(subscriptions.c.request_code).distinct())).scalars())
        statuses = await self.status_resolver(codes) if codes and self.status_resolver else {}
        return [code for code in codes if statuses.get(code) in wanted]

    async def cancel(self, broadcast_id: int, actor: str) -> Broadcast | None:
        """Stop a draft, scheduled or sending broadcast: rows not yet sent become
        `skipped`; rows in flight finish. None if there is no such broadcast
        or it already ended."""
        now = utcnow()
        async with self.storage.transaction(write=True) as conn:
            changed = await conn.execute(
                update(broadcasts)
                .where(
                    broadcasts.c.id == broadcast_id,
                    broadcasts.c.status.in_(
                        [BroadcastStatus.DRAFT.value, BroadcastStatus.SCHEDULED.value, BroadcastStatus.SENDING.value]
                    ),
                )
                .values(status=BroadcastStatus.CANCELLED.value, finished_at=now)
            )
            if changed.rowcount != 1:
                return None
            await conn.execute(
                update(_deliveries)
                .where(_deliveries.c.broadcast_id == broadcast_id, _deliveries.c.state == DeliveryState.PENDING.value)
                .values(state=DeliveryState.SKIPPED.value, last_error="cancelled", finished_at=now)
            )
        await self.storage.audit(actor, "broadcast.cancelled", {"broadcast": broadcast_id})
        return await self.get(broadcast_id)

    async def finish_completed(self, now: datetime | None = None) -> list[int]:
        """Mark `done` the sending broadcasts with no row left to send."""
        open_rows = exists().where(
            _deliveries.c.broadcast_id == broadcasts.c.id,
            _deliveries.c.state.in_([DeliveryState.PENDING.value, DeliveryState.IN_FLIGHT.value]),
        )
        async with self.storage.transaction(write=True) as conn:
            done = await conn.execute(
                update(broadcasts)
                .where(broadcasts.c.status == BroadcastStatus.SENDING.value, ~open_rows)
                .values(status=BroadcastStatus.DONE.value, finished_at=now or utcnow())
                .returning(broadcasts.c.id)
            )
            return list(done.scalars())

    async def get(self, broadcast_id: int) -> Broadcast | None:
        async with self.storage.transaction() as conn:
            row = (await conn.execute(select(broadcasts).where(broadcasts.c.id == broadcast_id))).one_or_none()
        return _broadcast(row) if row else None

    async def newest(self, limit: int = 20) -> list[Broadcast]:
        """The newest broadcasts first (without their images)."""
        columns = [column for column in broadcasts.c if column.name != "image"]
        async with self.storage.transaction() as conn:
            rows = (await conn.execute(select(*columns).order_by(broadcasts.c.id.desc()).limit(limit))).all()
        return [_broadcast(row) for row in rows]

    async def report(self, broadcast_id: int) -> Report | None:
        """Rows per delivery state; None if there is no such broadcast."""
        async with self.storage.transaction() as conn:
            status = (
                await conn.execute(select(broadcasts.c.status).where(broadcasts.c.id == broadcast_id))
            ).scalar_one_or_none()
            if status is None:
                return None
            rows = (
                await conn.execute(
                    select(_deliveries.c.state, func.count())
                    .where(_deliveries.c.broadcast_id == broadcast_id)
                    .group_by(_deliveries.c.state)
                )
            ).all()
        return Report(broadcast_id, BroadcastStatus(status), {DeliveryState(state): count for state, count in rows})

    # --- the outbox --------------------------------------------------------
    async def claim(
        self, channel: str, worker_id: str, limit: int, lease: timedelta, now: datetime | None = None
    ) -> list[Delivery]:
        """Take up to `limit` rows of `channel` that are due (pending, or in
        flight with an expired lease: their worker died) and mark them in
        flight for `worker_id`. Rows whose user opted out, became
        unreachable or was forgotten since are settled as skipped instead."""
        now = now or utcnow()
        sending = select(broadcasts.c.id).where(broadcasts.c.status == BroadcastStatus.SENDING.value)
        candidates = (
            select(_deliveries.c.id)
            .where(
                _deliveries.c.channel == channel,
                leases.due(_deliveries, now),
                _deliveries.c.broadcast_id.in_(sending),
            )
            .order_by(_deliveries.c.id)
            .limit(limit)
        )
        columns = ("id", "broadcast_id", "channel", "user_id", "chat_id", "attempts")
        claim = leases.claim_statement(
            _deliveries,
            candidates,
            is_postgres=self.storage.is_postgres,
            worker_id=worker_id,
            lease=lease,
            now=now,
            returning=[_deliveries.c[name] for name in columns],
        )
        async with self.storage.transaction(write=True) as conn:
            claimed = [Delivery(*row) for row in (await conn.execute(claim)).all()]
            if not claimed:
                return []
            welcome = set(
                (
                    await conn.execute(
                        select(users.c.user_id).where(
                            users.c.channel == channel,
                            users.c.user_id.in_({delivery.user_id for delivery in claimed}),
                            users.c.announcements_opt_out == false(),
                            users.c.unreachable == false(),
                        )
                    )
                ).scalars()
            )
            unwelcome = [delivery.id for delivery in claimed if delivery.user_id not in welcome]
            if unwelcome:
                await conn.execute(
                    update(_deliveries)
                    .where(_deliveries.c.id.in_(unwelcome))
                    .values(state=DeliveryState.SKIPPED.value, last_error="opted out", finished_at=now)
                )
        return sorted((d for d in claimed if d.user_id in welcome), key=lambda d: d.id)

    async def renew(self, worker_id: str, delivery_ids: Sequence[int], lease: timedelta) -> None:
        """Extend this worker's leases on rows it still has in flight."""
        if not delivery_ids:
            return
        async with self.storage.transaction(write=True) as conn:
            await conn.execute(
                update(_deliveries)
                .where(
                    _deliveries.c.id.in_(list(delivery_ids)),
                    _deliveries.c.claimed_by == worker_id,
                    _deliveries.c.state == DeliveryState.IN_FLIGHT.value,
                )
                .values(lease_until=utcnow() + lease)
            )

    async def settle(self, worker_id: str, outcomes: Sequence[Outcome], channel: str) -> None:
        """Persist send results in one transaction. A user the platform
        says is gone is also marked unreachable, so later broadcasts skip
        them; a retry of a cancelled broadcast becomes skipped."""
        if not outcomes:
            return
        now = utcnow()
        async with self.storage.transaction(write=True) as conn:
            for outcome in outcomes:
                values: dict[str, object] = {"state": outcome.state.value, "claimed_by": None, "lease_until": None}
                if outcome.refund_attempt:
                    values["attempts"] = _deliveries.c.attempts - 1
                if outcome.error:
                    values["last_error"] = outcome.error[:ERROR_LIMIT]
                if outcome.state == DeliveryState.PENDING:
                    values["next_attempt_at"] = outcome.retry_at or now
                else:
                    values["finished_at"] = now
                await conn.execute(
                    update(_deliveries)
                    .where(
                        _deliveries.c.id == outcome.delivery_id,
                        _deliveries.c.claimed_by == worker_id,
                        _deliveries.c.state == DeliveryState.IN_FLIGHT.value,
                    )
                    .values(**values)
                )
            gone = [outcome.delivery_id for outcome in outcomes if outcome.state == DeliveryState.UNREACHABLE]
            if gone:
                gone_users = select(_deliveries.c.user_id).where(_deliveries.c.id.in_(gone))
                await conn.execute(
                    update(users)
                    .where(users.c.channel == channel, users.c.user_id.in_(gone_users))
                    .values(unreachable=true())
                )
            retried = [outcome.delivery_id for outcome in outcomes if outcome.state == DeliveryState.PENDING]
            if retried:
                cancelled = select(broadcasts.c.id).where(broadcasts.c.status == BroadcastStatus.CANCELLED.value)
                await conn.execute(
                    update(_deliveries)
                    .where(
                        _deliveries.c.id.in_(retried),
                        _deliveries.c.state == DeliveryState.PENDING.value,
                        _deliveries.c.broadcast_id.in_(cancelled),
                    )
                    .values(state=DeliveryState.SKIPPED.value, last_error="cancelled", finished_at=now)
                )

    async def channels_with_work(self) -> list[str]:
        """Channels that have rows not yet final in sending broadcasts."""
        sending = select(broadcasts.c.id).where(broadcasts.c.status == BroadcastStatus.SENDING.value)
        async with self.storage.transaction() as conn:
            rows = await conn.execute(
                select(_deliveries.c.channel)
                .where(
                    _deliveries.c.broadcast_id.in_(sending),
                    _deliveries.c.state.in_([DeliveryState.PENDING.value, DeliveryState.IN_FLIGHT.value]),
                )
                .distinct()
            )
            return list(rows.scalars())

    async def next_due_at(self, channel: str) -> datetime | None:
        """When the earliest row of `channel` becomes claimable (a retry
        time or a lease end), for a worker deciding how long to idle."""
        async with self.storage.transaction() as conn:
            pending = select(func.min(_deliveries.c.next_attempt_at)).where(
                _deliveries.c.channel == channel, _deliveries.c.state == DeliveryState.PENDING.value
            )
            leased = select(func.min(_deliveries.c.lease_until)).where(
                _deliveries.c.channel == channel, _deliveries.c.state == DeliveryState.IN_FLIGHT.value
            )
            times = [(await conn.execute(query)).scalar() for query in (pending, leased)]
        # Aggregates skip the column type's result processing on SQLite.
        times = [as_aware_utc(value) for value in times if value is not None]
        return min(times) if times else None

    async def recipient_sample(self, segment: Segment, limit: int) -> list[tuple[str, str, str | None, str | None]]:
        """(channel, user id, province code, language) of the first `limit`
        citizens the segment reaches now (for a dry run; no chat ids)."""
        chosen = recipients_query(segment, await self._request_codes(segment))
        query = (
            select(chosen.c.channel, chosen.c.user_id, users.c.province_code, users.c.language)
            .join(users, (users.c.channel == chosen.c.channel) & (users.c.user_id == chosen.c.user_id))
            .order_by(chosen.c.channel, chosen.c.user_id)
            .limit(limit)
        )
        async with self.storage.transaction() as conn:
            return [tuple(row) for row in (await conn.execute(query)).all()]

    async def recipients(self, segment: Segment) -> int:
        """How many citizens the segment reaches now (for a preview)."""
        chosen = recipients_query(segment, await self._request_codes(segment))
        async with self.storage.transaction() as conn:
            return (await conn.execute(select(func.count()).select_from(chosen))).scalar_one()


def _broadcast(row) -> Broadcast:
    mapping = row._mapping
    return Broadcast(
        id=mapping["id"],
        created_by=mapping["created_by"],
        text=mapping["text"],
        segment=Segment.from_json(mapping["segment"]),
        status=BroadcastStatus(mapping["status"]),
        scheduled_at=mapping["scheduled_at"],
        created_at=mapping["created_at"],
        image=mapping.get("image"),
        link_title=mapping["link_title"],
        link_url=mapping["link_url"],
        started_at=mapping["started_at"],
        finished_at=mapping["finished_at"],
        recipients=mapping["recipients"],
    )
