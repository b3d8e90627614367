"""The per-message statements of `SqlStorage`, written once as synchronous
SQLAlchemy Core on a `Connection` for both databases (`SqlStorage.run_sync`
runs them), and the rows they read and write as `storage.base` records.

The statements are built once with bound parameters: building a SQLAlchemy
statement costs more than SQLite running it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, literal, select, update
from sqlalchemy.engine import Connection

from storage.base import Conversation, ConversationConflict, TurnStart, User
from storage.engines import Insert
from storage.schema import audit_log, conversations, events, seen_updates, users, utcnow

# The `users` columns, and those an upsert of a known user overwrites.
USER_COLUMNS = [column.name for column in users.c]
USER_UPDATABLE = [name for name in USER_COLUMNS if name not in ("channel", "user_id", "created_at")]


class TurnQueries:
    """The per-message statements; methods take a synchronous `Connection`."""

    def __init__(self, insert: Insert) -> None:
        key = (users.c.channel == bindparam("key_channel"), users.c.user_id == bindparam("key_user_id"))
        self.select_user = select(users).where(*key)
        self.touch_user_statement = update(users).where(*key)
        upsert = insert(users)
        self.upsert_user = upsert.on_conflict_do_update(
            index_elements=[users.c.channel, users.c.user_id],
            set_={name: upsert.excluded[name] for name in USER_UPDATABLE},
        )
        self.get_or_create_user = get_or_create_user_statement(insert)
        self.insert_seen = insert(seen_updates).on_conflict_do_nothing()
        self.select_conversation = select(conversations).where(
            conversations.c.channel == bindparam("key_channel"), conversations.c.user_id == bindparam("key_user_id")
        )
        self.insert_conversation = insert(conversations).on_conflict_do_nothing()
        self.update_conversation = update(conversations).where(
            conversations.c.channel == bindparam("key_channel"),
            conversations.c.user_id == bindparam("key_user_id"),
            conversations.c.version == bindparam("key_version"),
        )
        self.insert_events = events.insert()
        self.insert_audit = audit_log.insert()
        self.turn_start = {wanted: turn_start_query(wanted) for wanted in (False, True)}

    def begin_turn(
        self, conn: Connection, channel: str, user_id: str, update_id: str | None, conversation: bool
    ) -> TurnStart:
        params = turn_start_params(channel, user_id, update_id)
        return turn_start(conn.execute(self.turn_start[conversation], params).one()._mapping, conversation)

    def get_user(self, conn: Connection, channel: str, user_id: str) -> User | None:
        row = conn.execute(self.select_user, {"key_channel": channel, "key_user_id": user_id}).one_or_none()
        return user_from_row(row._mapping) if row else None

    def record_update(self, conn: Connection, channel: str, update_id: str) -> bool:
        """Record an update id; False if it was already recorded."""
        params = {"channel": channel, "update_id": str(update_id), "seen_at": utcnow()}
        return conn.execute(self.insert_seen, params).rowcount == 1

    def load_conversation(self, conn: Connection, channel: str, user_id: str) -> Conversation:
        row = conn.execute(self.select_conversation, {"key_channel": channel, "key_user_id": user_id}).one_or_none()
        if row is None:
            return Conversation()
        return Conversation(flow=row.flow, state=row.state, data=row.data, version=row.version)

    def save_conversation(self, conn: Connection, channel: str, user_id: str, conversation: Conversation) -> None:
        """Write `conversation` as version + 1 (the caller bumps it after
        the commit), or raise `ConversationConflict`."""
        values = {
            "flow": conversation.flow,
            "state": conversation.state,
            "data": conversation.data,
            "version": conversation.version + 1,
            "updated_at": utcnow(),
        }
        if conversation.version == 0:
            result = conn.execute(self.insert_conversation, {"channel": channel, "user_id": user_id, **values})
        else:
            key = {"key_channel": channel, "key_user_id": user_id, "key_version": conversation.version}
            result = conn.execute(self.update_conversation, {**key, **values})
        if result.rowcount != 1:
            raise ConversationConflict(f"conversation changed since version {conversation.version}")

    def save_user(self, conn: Connection, user: User) -> None:
        conn.execute(self.upsert_user, user_row(user, utcnow()))

    def touch_user(self, conn: Connection, channel: str, user_id: str, chat_id: str) -> None:
        params = {"key_channel": channel, "key_user_id": user_id, "chat_id": chat_id, "last_seen_at": utcnow()}
        conn.execute(self.touch_user_statement, params)


def get_or_create_user_statement(insert: Insert):
    """The user's row, created (or its chat and last-seen time refreshed)
    from `channel`, `user_id`, `chat_id` and `now`; `insert` is the dialect's."""
    new_user = insert(users).values(
        channel=bindparam("channel"),
        user_id=bindparam("user_id"),
        chat_id=bindparam("chat_id"),
        created_at=bindparam("now"),
        last_seen_at=bindparam("now"),
    )
    return new_user.on_conflict_do_update(
        index_elements=[users.c.channel, users.c.user_id],
        set_={"chat_id": new_user.excluded.chat_id, "last_seen_at": new_user.excluded.last_seen_at},
    ).returning(*users.c)


def turn_start_query(with_conversation: bool):
    """What a turn starts from in one round trip: whether the update id
    is on record, the user's row and (if wanted) their conversation,
    outer-joined to a single row that always exists."""
    seen = exists().where(
        seen_updates.c.channel == bindparam("key_channel"), seen_updates.c.update_id == bindparam("key_update_id")
    )
    one = select(literal(1).label("one")).subquery()
    is_user = and_(users.c.channel == bindparam("key_channel"), users.c.user_id == bindparam("key_user_id"))
    columns = [seen.label("seen"), *(column.label(f"user_{column.name}") for column in users.c)]
    joined = one.outerjoin(users, is_user)
    if with_conversation:
        is_conversation = and_(
            conversations.c.channel == bindparam("key_channel"),
            conversations.c.user_id == bindparam("key_user_id"),
        )
        columns += [column.label(f"conversation_{column.name}") for column in conversations.c]
        joined = joined.outerjoin(conversations, is_conversation)
    return select(*columns).select_from(joined)


def turn_start_params(channel: str, user_id: str, update_id: str | None) -> dict[str, Any]:
    return {"key_channel": channel, "key_user_id": user_id, "key_update_id": str(update_id) if update_id else None}


def turn_start(row: Mapping[Any, Any], conversation: bool) -> TurnStart:
    """A `TurnStart` from a row of `turn_start_query`."""
    if row["seen"]:
        return TurnStart(True, None, None)
    user = None
    if row["user_channel"] is not None:
        user = User(**{f.name: row[f"user_{f.name}"] for f in fields(User)})
    loaded = None
    if conversation:
        loaded = Conversation()
        if row["conversation_version"] is not None:
            loaded = Conversation(
                flow=row["conversation_flow"],
                state=row["conversation_state"],
                data=row["conversation_data"],
                version=row["conversation_version"],
            )
    return TurnStart(False, user, loaded)


def user_from_row(row: Mapping[Any, Any]) -> User:
    return User(**{f.name: row[f.name] for f in fields(User)})


def user_row(user: User, now: datetime) -> dict[str, Any]:
    """The `users` row saving `user` writes: its timestamps default to `now`."""
    row = {f.name: getattr(user, f.name) for f in fields(User)}
    row["created_at"] = row["created_at"] or now
    row["last_seen_at"] = row["last_seen_at"] or now
    return row
