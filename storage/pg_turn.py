"""A turn (one handled message) on PostgreSQL: the user's advisory lock, held
on a connection of the lock pool, and the turn's own statements run on that
asyncpg connection directly (`DriverStatement`): its first read, and its
save as one statement that also hands the user lock over.

`SqlStorage.user_lock` opens a turn with `turn_held`; the storage calls of
the task inside it find the turn with `current_turn`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import Boolean, Integer, LargeBinary, String, bindparam, delete, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.redaction import scrub_props
from storage.base import Conversation, ConversationConflict, DuplicateUpdate, Event, User
from storage.outbound_rows import NewOutgoing, OutboundState, Queued
from storage.schema import UtcDateTime, seen_updates, users, utcnow
from storage.turn_queries import (
    USER_COLUMNS,
    USER_UPDATABLE,
    get_or_create_user_statement,
    turn_start_params,
    turn_start_query,
    user_row,
)

if TYPE_CHECKING:  # storage.sql imports this module
    from storage.sql import SqlStorage


class DriverStatement:
    """A statement compiled once by SQLAlchemy for asyncpg and run on the
    asyncpg connection itself, skipping SQLAlchemy's execution layer, which
    cost several times what asyncpg spends on a statement. Parameters go in
    as asyncpg takes them (JSON as text); errors come out as SQLAlchemy's,
    like those of every other call."""

    def __init__(self, statement) -> None:
        compiled = statement.compile(dialect=PGDialect_asyncpg())
        self.sql = compiled.string
        self._names = compiled.positiontup or []
        self._literals = {name: value for name, value in compiled.params.items() if value is not None}

    async def fetchrow(self, driver: asyncpg.Connection, params: Mapping[str, Any]) -> asyncpg.Record | None:
        values = {**self._literals, **params}
        with _as_sqlalchemy_errors(self.sql):
            return await driver.fetchrow(self.sql, *(values[name] for name in self._names))


def one_row(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one."""
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


@contextlib.contextmanager
def _as_sqlalchemy_errors(sql: str) -> Iterator[None]:
    """asyncpg's errors as SQLAlchemy's dialect would raise them, so that
    callers (`retry_transient`) tell a dropped connection from a bad query."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(sql, None, error) from error
    except asyncpg.SyntaxOrAccessError as error:
        raise ProgrammingError(sql, None, error) from error
    except asyncpg.DataError as error:
        raise DataError(sql, None, error) from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise OperationalError(sql, None, error) from error


class TurnConnection:
    """The connection a PostgreSQL turn holds its user's lock on. The
    turn's own storage calls (`begin_turn` and `save_turn` by `fetchrow`,
    the others by `run`) run on it as well: one pool checkout per message
    instead of one per call, and
    no BEGIN/ROLLBACK around reads (each statement, in autocommit, reads
    what is committed; the rows a turn reads are only written under the
    same user lock). Writes get a real transaction, all or nothing."""

    def __init__(self, storage: SqlStorage, conn: AsyncConnection, driver: asyncpg.Connection, key: str) -> None:
        self.storage = storage
        self.conn: AsyncConnection | None = conn
        self.driver = driver
        self.key = key  # of the user lock
        self.holds_lock = True  # until the turn's save releases it
        self.busy = asyncio.Lock()  # one statement at a time on a connection

    async def fetchrow(self, statement: DriverStatement, params: Mapping[str, Any]) -> asyncpg.Record | None:
        async with self.busy:
            if self.conn is None:
                raise RuntimeError("the turn's connection was used after its user lock was released")
            return await statement.fetchrow(self.driver, params)

    async def run(self, work: Callable[..., Any], args: tuple, write: bool) -> Any:
        async with self.busy:
            conn = self.conn
            if conn is None:
                raise RuntimeError("the turn's connection was used after its user lock was released")
            if not write:
                return await conn.run_sync(work, *args)
            # The connection is in autocommit mode (the lock must outlive
            # transactions), so the transaction is the driver's own.
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None, "an open connection has its driver's"
            async with driver.transaction():
                return await conn.run_sync(work, *args)


# The turn (user lock) the current task is in, if any.
_turn_connection: contextvars.ContextVar[TurnConnection | None] = contextvars.ContextVar("troly_turn", default=None)


def current_turn(storage: SqlStorage) -> TurnConnection | None:
    """The PostgreSQL turn (user lock) of `storage` the current task is in, if any."""
    turn = _turn_connection.get()
    return turn if turn is not None and turn.storage is storage and turn.conn is not None else None


@contextlib.asynccontextmanager
async def turn_held(storage: SqlStorage, lock_engine: AsyncEngine, key: str) -> AsyncIterator[None]:
    """The user lock `key` held, and the current task in its turn, for the
    time of the block."""
    async with _advisory_lock(storage, lock_engine, key) as turn:
        token = _turn_connection.set(turn)
        try:
            yield
        finally:
            _turn_connection.reset(token)
            async with turn.busy:  # a statement of a task the turn started finishes first
                turn.conn = None


@contextlib.asynccontextmanager
async def _advisory_lock(storage: SqlStorage, lock_engine: AsyncEngine, key: str) -> AsyncIterator[TurnConnection]:
    """A session-level PostgreSQL advisory lock held on a dedicated
    connection (in autocommit mode), so workers in other processes wait
    for it too; yields the turn on that connection. A turn's save
    releases the lock itself (`_SAVE_TURN`), else it is released here."""
    params = {"key": key}
    async with lock_engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        try:
            await _LOCK.fetchrow(driver, params)
        except BaseException:
            # Cancelled mid-acquire: the lock may be ours server-side;
            # ending the session is the only sure release.
            await conn.invalidate()
            raise
        turn = TurnConnection(storage, conn, driver, key)
        released = False
        try:
            yield turn
        finally:
            try:
                released = not turn.holds_lock or bool(
                    one_row(await asyncio.shield(_UNLOCK.fetchrow(driver, params)))[0]
                )
            finally:
                if not released:
                    await conn.invalidate()


async def prepare_turn_statements(driver: asyncpg.Connection) -> None:
    """A new lock connection made ready for turns: the statements every
    turn reads with run once, which keeps them in asyncpg's cache; the
    writes are parsed only."""
    await _LOCK.fetchrow(driver, {"key": "troly:warm-up"})
    await _UNLOCK.fetchrow(driver, {"key": "troly:warm-up"})
    for statement in TURN_START.values():
        await statement.fetchrow(driver, turn_start_params("", "", None))
    await driver.prepare(_SAVE_TURN.sql)


async def save_turn_at_once(
    turn: TurnConnection,
    channel: str,
    user_id: str,
    update_id: str,
    conversation: Conversation,
    turn_events: Sequence[Event],
    user: User | None,
    touch_chat_id: str | None,
    user_hash: str,
    replies: NewOutgoing | None = None,
) -> Queued | None:
    """`save_turn` as one PostgreSQL statement (`_SAVE_TURN`): the update
    id recorded, the conversation saved as version + 1 (created if new),
    the events logged, the user saved (or their chat and last-seen time
    refreshed) if asked, the replies queued if given, or nothing at all."""
    now = utcnow()
    saved_user = user_row(user, now) if user is not None else dict.fromkeys(USER_COLUMNS)
    params = {
        **{f"user_{name}": value for name, value in saved_user.items()},
        "save_user": user is not None,
        "channel": channel,
        "user_id": user_id,
        "update_id": update_id,
        "user_hash": user_hash,
        "now": now,
        "flow": conversation.flow,
        "state": conversation.state,
        "data": json.dumps(conversation.data),
        "version": conversation.version,
        "events": json.dumps([{"name": name, "props": scrub_props(props or {})} for name, props in turn_events]),
        "touch": user is None and touch_chat_id is not None,
        "chat_id": touch_chat_id,
        "out_channel": replies.channel if replies else None,
        "out_chat_id": replies.chat_id if replies else None,
        "out_priority": replies.priority if replies else 0,
        "out_payload": json.dumps(replies.payload) if replies else None,
        "out_worker_id": replies.worker_id if replies else None,
        "out_lease_until": now + replies.lease if replies else None,
        "out_pictures": replies.picture_digests if replies else None,
        "out_state": replies.claimed_state.value if replies else None,
        "out_update_id": replies.rides_with if replies else None,
        "picture_digests": list(replies.pictures) if replies else [],
        "picture_pngs": list(replies.pictures.values()) if replies else [],
    }
    lock_key = turn.key if turn.holds_lock else None
    row = one_row(await turn.fetchrow(_SAVE_TURN, {**params, "lock_key": lock_key}))
    fresh, saved, unlocked, queued_id, queued_mine = row
    if unlocked:
        turn.holds_lock = False
    if not fresh:
        raise DuplicateUpdate(update_id)
    if not saved:
        # Another worker saved since this conversation was read (a stale cached
        # copy, or a lost lock): the update must not stay recorded, so it is redone.
        await turn.fetchrow(_FORGET_UPDATE, {"channel": channel, "update_id": update_id})
        raise ConversationConflict(f"conversation changed since version {conversation.version}")
    return Queued(queued_id, queued_mine) if queued_id is not None else None


def _save_turn_statement() -> DriverStatement:
    """`_SAVE_TURN`, its user columns taken from the `users` table.

    Data-modifying CTEs run once each, in one snapshot; each write depends on
    the one before: a duplicate update writes nothing, a stale version (or a
    "new" conversation that exists) only the update id, which
    `save_turn_at_once` then deletes. The turn's replies join the outbound
    queue with it (`queued`): in flight (or riding) for this worker, or
    pending behind the chat's earlier open row (as `insert_outgoing` does),
    their pictures stored unless already (`pictured`).

    A saved turn also hands its user lock (`:lock_key`) over, saving the
    unlock's round trip: it takes the same lock at transaction level, then
    releases the session-level hold. The transaction-level one goes at
    commit, so the next turn of this user, in any worker, reads what this
    one saved. On a duplicate or a conflict the session lock stays held."""
    columns, updated = USER_COLUMNS, USER_UPDATABLE
    pending, in_flight = OutboundState.PENDING.value, OutboundState.IN_FLIGHT.value
    statement = text(f"""
WITH seen AS (
    INSERT INTO seen_updates (channel, update_id, seen_at) VALUES (:channel, :update_id, :now)
    ON CONFLICT DO NOTHING RETURNING 1
), updated AS (
    UPDATE conversations SET flow = :flow, state = :state, data = :data, version = :version + 1, updated_at = :now
    WHERE channel = :channel AND user_id = :user_id AND version = :version AND EXISTS (SELECT FROM seen)
    RETURNING 1
), created AS (
    INSERT INTO conversations (channel, user_id, flow, state, data, version, updated_at)
    SELECT :channel, :user_id, :flow, :state, :data, 1, :now WHERE :version = 0 AND EXISTS (SELECT FROM seen)
    ON CONFLICT DO NOTHING RETURNING 1
), saved AS (
    SELECT 1 FROM updated UNION ALL SELECT 1 FROM created
), logged AS (
    INSERT INTO events (channel, user_hash, name, props, at)
    SELECT :channel, :user_hash, e.name, e.props, :now FROM jsonb_to_recordset(:events) AS e(name text, props jsonb)
    WHERE EXISTS (SELECT FROM saved)
), user_saved AS (
    INSERT INTO users ({", ".join(columns)})
    SELECT {", ".join(f":user_{name}" for name in columns)} WHERE :save_user AND EXISTS (SELECT FROM saved)
    ON CONFLICT (channel, user_id) DO UPDATE SET {", ".join(f"{name} = EXCLUDED.{name}" for name in updated)}
), touched AS (
    UPDATE users SET chat_id = :chat_id, last_seen_at = :now
    WHERE channel = :channel AND user_id = :user_id AND :touch AND EXISTS (SELECT FROM saved)
), queued AS (
    INSERT INTO outbound_messages (channel, chat_id, priority, payload, state, attempts, created_at,
                                   next_attempt_at, claimed_by, lease_until, pictures, update_id)
    SELECT :out_channel, :out_chat_id, :out_priority, :out_payload,
        CASE WHEN chat.behind THEN '{pending}' ELSE :out_state END, CASE WHEN chat.behind THEN 0 ELSE 1 END,
        :now, :now, CASE WHEN chat.behind THEN NULL ELSE :out_worker_id END,
        CASE WHEN chat.behind THEN NULL ELSE :out_lease_until END, :out_pictures,
        CASE WHEN chat.behind THEN NULL ELSE :out_update_id END
    FROM (SELECT EXISTS (
        SELECT FROM outbound_messages WHERE channel = :out_channel AND chat_id = :out_chat_id
            AND state IN ('{pending}', '{in_flight}')
    ) AS behind) AS chat
    WHERE :out_payload IS NOT NULL AND EXISTS (SELECT FROM saved)
    RETURNING id, state <> '{pending}' AS mine
), pictured AS (
    INSERT INTO outbound_pictures (digest, png, stored_at)
    SELECT picture.digest, picture.png, :now FROM unnest(:picture_digests, :picture_pngs) AS picture(digest, png)
    WHERE EXISTS (SELECT FROM queued)
    ON CONFLICT DO NOTHING
), handed_over AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(hashtextextended(:lock_key, 0))
    WHERE :lock_key IS NOT NULL AND EXISTS (SELECT FROM saved)
)
SELECT EXISTS (SELECT FROM seen) AS fresh, EXISTS (SELECT FROM saved) AS saved,
    CASE WHEN EXISTS (SELECT FROM handed_over) THEN pg_advisory_unlock(hashtextextended(:lock_key, 0)) END AS unlocked,
    (SELECT id FROM queued) AS queued_id, (SELECT mine FROM queued) AS queued_mine
""").bindparams(
        bindparam("now", type_=UtcDateTime()),
        bindparam("data", type_=postgresql.JSONB()),
        bindparam("events", type_=postgresql.JSONB()),
        bindparam("version", type_=Integer()),
        bindparam("save_user", type_=Boolean()),
        bindparam("touch", type_=Boolean()),
        bindparam("chat_id", type_=String()),
        bindparam("out_channel", type_=String()),
        bindparam("out_chat_id", type_=String()),
        bindparam("out_priority", type_=Integer()),
        bindparam("out_payload", type_=postgresql.JSONB()),
        bindparam("out_worker_id", type_=String()),
        bindparam("out_lease_until", type_=UtcDateTime()),
        bindparam("out_pictures", type_=String()),
        bindparam("out_state", type_=String()),
        bindparam("out_update_id", type_=String()),
        bindparam("picture_digests", type_=postgresql.ARRAY(String())),
        bindparam("picture_pngs", type_=postgresql.ARRAY(LargeBinary())),
        *(bindparam(f"user_{column.name}", type_=column.type) for column in users.c),
    )
    return DriverStatement(statement)


_LOCK = DriverStatement(text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"))
_UNLOCK = DriverStatement(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"))
_SAVE_TURN = _save_turn_statement()
_FORGET_UPDATE = DriverStatement(
    delete(seen_updates).where(
        seen_updates.c.channel == bindparam("channel"), seen_updates.c.update_id == bindparam("update_id")
    )
)
# The statements `SqlStorage` runs in a turn itself.
GET_OR_CREATE_USER = DriverStatement(get_or_create_user_statement(postgresql.insert))
TURN_START = {wanted: DriverStatement(turn_start_query(wanted)) for wanted in (False, True)}
