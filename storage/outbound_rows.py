"""A row of the outbound queue as it is first written, on its own
(`OutboundStore.put`) or inside the turn that produced its replies
(`Storage.save_turn`): then the replies and the turn are saved together,
and no crash can leave a turn handled with its answer unwritten."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.engine import Connection

from storage.engines import dialect_insert
from storage.schema import outbound_messages, outbound_pictures

_rows = outbound_messages


class OutboundState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    RIDING = "riding"  # its last reply goes in a webhook response; released if its update comes again
    UNREACHABLE = "unreachable"  # the platform says the user is gone
    EXPIRED = "expired"  # older than the queue's max age
    FAILED = "failed"  # the platform refused it for good (a bad request)


OPEN_STATES = (OutboundState.PENDING.value, OutboundState.IN_FLIGHT.value)


@dataclass(frozen=True)
class NewOutgoing:
    """A chat's replies to write down, claimed for `worker_id` under `lease`
    unless an earlier row of the chat is still open; the pictures the
    payload names by digest are stored once each, apart. With `rides_with`
    (an update id) the row rides: claimed for `worker_id` all the same, but
    left to the webhook's redelivery of that update instead of the lease."""

    channel: str
    chat_id: str
    payload: dict[str, Any]
    worker_id: str
    lease: timedelta
    priority: int = 0
    pictures: Mapping[str, bytes] = field(default_factory=dict)
    rides_with: str | None = None

    @property
    def picture_digests(self) -> str | None:
        return " ".join(sorted(self.pictures)) or None

    @property
    def claimed_state(self) -> OutboundState:
        """Its state unless it waits behind an earlier row of the chat."""
        return OutboundState.IN_FLIGHT if self.rides_with is None else OutboundState.RIDING


@dataclass(frozen=True)
class Queued:
    """Where a new row went: `mine` when claimed by its writer, to send at
    once; otherwise it waits behind the chat's earlier row."""

    row_id: int
    mine: bool


def insert_outgoing(conn: Connection, new: NewOutgoing, now: datetime) -> Queued:
    if new.pictures:
        stored = [{"digest": digest, "png": png, "stored_at": now} for digest, png in new.pictures.items()]
        conn.execute(dialect_insert(conn.dialect.name)(outbound_pictures).values(stored).on_conflict_do_nothing())
    behind = conn.execute(select(exists().where(open_rows_of_chat(new.channel, new.chat_id)))).scalar()
    state = OutboundState.PENDING if behind else new.claimed_state
    inserted = conn.execute(
        _rows.insert()
        .values(
            channel=new.channel,
            chat_id=new.chat_id,
            priority=new.priority,
            payload=new.payload,
            state=state.value,
            attempts=0 if behind else 1,
            created_at=now,
            next_attempt_at=now,
            claimed_by=None if behind else new.worker_id,
            lease_until=None if behind else now + new.lease,
            pictures=new.picture_digests,
            update_id=None if behind else new.rides_with,
        )
        .returning(_rows.c.id)
    )
    return Queued(inserted.scalar_one(), not behind)


def open_rows_of_chat(channel: str, chat_id: str) -> Any:
    return and_(_rows.c.channel == channel, _rows.c.chat_id == chat_id, _rows.c.state.in_(OPEN_STATES))
