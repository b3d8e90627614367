"""`SqlStorage`: the storage port on SQLAlchemy 2 async, one code path for
SQLite (aiosqlite, one process) and PostgreSQL (asyncpg, several workers).

Dialect differences are confined to five places: the upsert helper
(`_insert`), connection set-up (SQLite pragmas and `BEGIN IMMEDIATE` for
writes), `user_lock` (a PostgreSQL advisory lock on top of the
process-local lock), `run_sync`, which runs the per-message queries, and
a PostgreSQL turn's own statements (`_DriverStatement`: the lock, the
turn's first read and the one-statement save of a message),
compiled by SQLAlchemy and run on the asyncpg connection itself.

Per-message work (`begin_turn`, `save_turn` and the methods they share) is
written once as plain synchronous SQLAlchemy Core on a `Connection`. On
PostgreSQL `run_sync` executes it through the async engine. On
SQLite it runs on the event loop itself, on a synchronous pysqlite
connection: a turn's transaction takes well under a millisecond there,
while aiosqlite's four thread hand-offs per statement (each waiting for the
GIL behind the flows' work) were most of a message's time. Only another
process holding the write lock can make it wait: then it gives up after a
short busy timeout and waits off the loop, through aiosqlite.

Modules with tables of their own use `run_sync` too for writes a citizen's
message waits for (unanswered questions, web notices): `transaction()`
goes through aiosqlite and holds the single writer across its thread
hand-offs, so under load every other message queued behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import (
    Boolean,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    exists,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import DataError, DisconnectionError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.redaction import scrub_props
from storage.base import (
    Conversation,
    ConversationConflict,
    DuplicateUpdate,
    Event,
    Storage,
    Subscriber,
    TurnStart,
    User,
    user_actor,
)
from storage.migrations import upgrade_to_head
from storage.schema import (
    UtcDateTime,
    audit_log,
    conversations,
    events,
    metadata,
    pending_notices,
    seen_updates,
    storage_meta,
    subscriptions,
    users,
)

SUPPORTED_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# How long a query on the event loop waits for another process's SQLite
# write lock before it retries off the loop (the loop stalls meanwhile).
INLINE_BUSY_TIMEOUT_MS = 20

_SALT_KEY = "pseudonym_salt"


def _now() -> datetime:
    return datetime.now(UTC)


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._entries: dict[str, list] = {}  # key -> [lock, holders and waiters]

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._entries[key]


class SqlStorage(Storage):
    """Storage on `sqlite+aiosqlite:///path` or `postgresql+asyncpg://...`.

    `init()` migrates the schema to the newest Alembic revision, so every
    start (and every test) runs on the schema the migrations produce.
    """

    def __init__(
        self,
        url: str,
        *,
        pseudonym_salt: str | None = None,
        seen_updates_ttl: timedelta = timedelta(days=2),
        pool_size: int = 10,
        lock_pool_size: int = 20,
    ) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        driver = SUPPORTED_DRIVERS.get(self.dialect)
        if driver is None or self.url.get_driver_name() != driver:
            expected = " or ".join(f"{name}+{drv}://" for name, drv in SUPPORTED_DRIVERS.items())
            raise ValueError(f"storage.url must start with {expected}, not {self.url.drivername}://")
        if self.dialect == "sqlite" and self.url.database in (None, "", ":memory:"):
            raise ValueError("storage.url: SQLite needs a file path (sqlite+aiosqlite:///var/troly.sqlite3)")
        self._queries = _TurnQueries(self._insert)
        self._salt = pseudonym_salt
        self._seen_updates_ttl = seen_updates_ttl
        self._pool_size = pool_size
        self._lock_pool_size = lock_pool_size
        self._engine: AsyncEngine | None = None
        self._lock_engine: AsyncEngine | None = None  # PostgreSQL: connections that hold user locks
        self._sqlite_engine: Engine | None = None  # SQLite: `run_sync` on the event loop
        self._local_locks = _KeyedLocks()
        # PostgreSQL turns each hold a lock connection: the ones beyond the
        # pool wait here, in order and without the pool's 30 s timeout
        # (one connection stays free for the leader job, bot/workers.py).
        self._turn_slots = asyncio.Semaphore(max(1, lock_pool_size - 1))
        # SQLite has one writer at a time: see `transaction`.
        self._sqlite_writer = asyncio.Lock()
        self._next_prune = datetime.min.replace(tzinfo=UTC)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    # --- lifecycle ---------------------------------------------------------
    async def init(self) -> None:
        if self._engine is not None:
            return
        if self.is_postgres:
            self._engine = create_async_engine(
                self.url, pool_size=self._pool_size, max_overflow=self._pool_size // 2, pool_pre_ping=True
            )
            # Lock holders wait on their own pool so they can never starve
            # the short queries the locked handlers need. A turn's own
            # queries run on its lock connection too (`_TurnConnection`).
            # No pre-ping: on asyncpg it costs three round trips per
            # checkout. A connection the server closed (a restart) is
            # replaced at checkout by a local check instead
            # (`_replace_if_closed`); one broken without notice fails its
            # turn once and `retry_transient` (bot/resilience.py) repeats
            # the turn on another connection.
            # No overflow: a connection beyond the pool would be opened for
            # one turn and closed after it (a new server process each time).
            self._lock_engine = create_async_engine(
                self.url,
                pool_size=self._lock_pool_size,
                max_overflow=0,
                isolation_level="AUTOCOMMIT",
            )
            event.listen(self._lock_engine.sync_engine, "checkout", _replace_if_closed)
        else:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            # The driver opens write transactions itself with BEGIN IMMEDIATE
            # right before the first write (no extra round trip; a write never
            # fails upgrading a read lock); plain SELECTs need no transaction.
            sqlite_args = {"isolation_level": "IMMEDIATE"}
            self._engine = create_async_engine(self.url, pool_size=self._pool_size, max_overflow=0, connect_args=sqlite_args)
            _tune_sqlite(self._engine.sync_engine, busy_timeout_ms=10_000)
            # One connection: the event loop runs one transaction at a time.
            self._sqlite_engine = create_engine(
                self.url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0, connect_args=sqlite_args
            )
            _tune_sqlite(self._sqlite_engine, busy_timeout_ms=INLINE_BUSY_TIMEOUT_MS)
        try:
            await self._migrate()
            if self._salt is None:
                self._salt = await self._stored_salt()
        except BaseException:
            await self.close()
            raise

    async def open_turn_connections(self) -> None:
        """PostgreSQL: open every connection of the lock pool now, with the
        turn statements run or parsed on each, instead of during a starting
        worker's first messages. 19 new users' first turns at once took
        150 ms and 80 ms of this process's CPU on new connections; 60 and
        40 on connections opened here (a new server process, asyncpg's type
        introspection and the parsing are paid at start-up instead)."""
        if self._lock_engine is None:
            return
        async with contextlib.AsyncExitStack() as opened:
            for _ in range(self._lock_pool_size):
                conn = await opened.enter_async_context(self._lock_engine.connect())
                driver = (await conn.get_raw_connection()).driver_connection
                # The statements every turn reads with run once, which keeps
                # them in asyncpg's cache; the writes are parsed only.
                await _LOCK.fetchrow(driver, {"key": "troly:warm-up"})
                await _UNLOCK.fetchrow(driver, {"key": "troly:warm-up"})
                for statement in _TURN_START.values():
                    await statement.fetchrow(driver, _turn_start_params("", "", None))
                await driver.prepare(_SAVE_TURN.sql)

    async def close(self) -> None:
        for engine in (self._lock_engine, self._engine):
            if engine is not None:
                await engine.dispose()
        if self._sqlite_engine is not None:
            self._sqlite_engine.dispose()
        self._engine = self._lock_engine = self._sqlite_engine = None

    async def _migrate(self) -> None:
        async with self.transaction(write=True) as conn:
            if self.is_postgres:
                # Workers starting together: one migrates, the others wait.
                await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('troly:migrations', 0))"))
            else:
                # DDL opens no transaction by itself: take the write lock
                # first so the whole upgrade commits or rolls back as one.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            await conn.run_sync(upgrade_to_head)

    async def _stored_salt(self) -> str:
        async with self.transaction(write=True) as conn:
            await conn.execute(
                self._insert(storage_meta).values(key=_SALT_KEY, value=secrets.token_hex(32)).on_conflict_do_nothing()
            )
            return (await conn.execute(select(storage_meta.c.value).where(storage_meta.c.key == _SALT_KEY))).scalar_one()

    # --- transactions ------------------------------------------------------
    @contextlib.asynccontextmanager
    async def transaction(self, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for queries on `storage.schema` tables, for modules
        that own a table of their own (roles, outbox, tokens...).

        `write=True`: one transaction, committed at exit (rolled back on an
        exception); on SQLite, writers in this process take turns here, in
        order, instead of sleeping in SQLite's busy handler. `write=False`:
        reads only, nothing is committed. Inside a write transaction, call
        no other storage method that writes: on SQLite it would wait for
        the transaction it is in.
        """
        if self._engine is None:
            raise RuntimeError("storage used before init()")
        if not write:
            async with self._engine.connect() as conn:
                yield conn
            return
        async with contextlib.nullcontext() if self.is_postgres else self._sqlite_writer:
            async with self._engine.connect() as conn:
                async with conn.begin():
                    yield conn

    async def run_sync(self, work: Callable[..., Any], *args: Any, write: bool = False) -> Any:
        """`work(connection, *args)` in one transaction (committed if `write`,
        `work` being synchronous SQLAlchemy Core), on either database: the
        fast path for short statements (see the module's docstring); in a
        PostgreSQL turn, on the turn's connection."""
        if self._engine is None:
            raise RuntimeError("storage used before init()")
        turn = self._current_turn()
        if turn is not None:
            return await turn.run(work, args, write)
        if self._sqlite_engine is not None:
            try:
                if not write:
                    return _in_transaction(self._sqlite_engine, False, work, args)
                # The same turn-taking as `transaction(write=True)`: no writer
                # of this process is then mid-transaction on the other engine.
                async with self._sqlite_writer:
                    return _in_transaction(self._sqlite_engine, True, work, args)
            except OperationalError as error:
                if "locked" not in str(error.orig):
                    raise
                # Another process is writing: wait for it off the event loop.
        async with self.transaction(write=write) as conn:
            return await conn.run_sync(work, *args)

    def _current_turn(self) -> _TurnConnection | None:
        """The PostgreSQL turn (user lock) the current task is in, if any."""
        turn = _turn_connection.get()
        return turn if turn is not None and turn.storage is self and turn.conn is not None else None

    def _insert(self, table):
        """INSERT with this dialect's ON CONFLICT clauses."""
        return (postgresql.insert if self.is_postgres else sqlite.insert)(table)

    # --- users -------------------------------------------------------------
    async def get_or_create_user(self, channel: str, user_id: str, chat_id: str) -> User:
        params = {"channel": channel, "user_id": user_id, "chat_id": chat_id, "now": _now()}
        turn = self._current_turn()
        if turn is not None:  # a new user's first message on PostgreSQL
            return _user(await turn.fetchrow(_GET_OR_CREATE_USER, params))
        statement = self._queries.get_or_create_user
        return _user((await self.run_sync(lambda conn: conn.execute(statement, params).one(), write=True))._mapping)

    async def get_user(self, channel: str, user_id: str) -> User | None:
        return await self.run_sync(self._queries.get_user, channel, user_id)

    async def save_user(self, user: User) -> None:
        await self.run_sync(self._queries.save_user, user, write=True)

    async def forget_user(self, channel: str, user_id: str) -> None:
        actor = user_actor(channel, user_id)
        pseudonym = f"erased:{self.pseudonym(channel, user_id)}"
        async with self.transaction(write=True) as conn:
            for table in _tables_keyed_by_user():
                await conn.execute(delete(table).where(*_is_user(table, channel, user_id)))
            user_hash = self.pseudonym(channel, user_id)
            for table in _tables_keyed_by_hash():
                await conn.execute(delete(table).where(table.c.user_hash == user_hash))
            # Audit rows stay (accountability) but lose the identity.
            mentions = await conn.execute(
                select(audit_log.c.id, audit_log.c.actor, audit_log.c.details).where(
                    (audit_log.c.actor == actor) | cast(audit_log.c.details, Text).contains(user_id)
                )
            )
            for row in mentions.all():
                await conn.execute(
                    update(audit_log)
                    .where(audit_log.c.id == row.id)
                    .values(
                        actor=pseudonym if row.actor == actor else row.actor,
                        details=_replace_identity(row.details, {user_id, actor}, pseudonym),
                    )
                )
            await conn.execute(
                audit_log.insert().values(actor=pseudonym, action="user.forgotten", details={"channel": channel}, at=_now())
            )

    def pseudonym(self, channel: str, user_id: str) -> str:
        """A keyed one-way hash of the user: stable, so their analytics rows
        can be counted and erased, but not reversible without the salt."""
        if self._salt is None:
            raise RuntimeError("storage used before init()")
        key = user_actor(channel, user_id).encode()
        return hmac.new(self._salt.encode(), key, hashlib.sha256).hexdigest()

    # --- conversation ------------------------------------------------------
    async def load_conversation(self, channel: str, user_id: str) -> Conversation:
        return await self.run_sync(self._queries.load_conversation, channel, user_id)

    async def save_conversation(self, channel: str, user_id: str, conversation: Conversation) -> None:
        await self.run_sync(self._queries.save_conversation, channel, user_id, conversation, write=True)
        conversation.version += 1

    # --- platform update de-duplication ------------------------------------
    async def first_time_seen(self, channel: str, update_id: str) -> bool:
        fresh = await self.run_sync(self._queries.record_update, channel, update_id, write=True)
        await self._prune_now_and_then()
        return fresh

    async def _prune_now_and_then(self) -> None:
        now = _now()
        if now >= self._next_prune:
            self._next_prune = now + timedelta(minutes=10)
            await self.prune_seen_updates()

    async def prune_seen_updates(self, older_than: timedelta | None = None) -> int:
        """Forget update ids older than the platforms' retry window; returns
        how many rows went. Called by `first_time_seen` every 10 minutes."""
        cutoff = _now() - (older_than if older_than is not None else self._seen_updates_ttl)
        statement = delete(seen_updates).where(seen_updates.c.seen_at < cutoff)
        return await self.run_sync(lambda conn: conn.execute(statement).rowcount, write=True)

    # --- one handled message ----------------------------------------------
    async def begin_turn(
        self, channel: str, user_id: str, update_id: str | None, *, conversation: bool = True
    ) -> TurnStart:
        turn = self._current_turn()
        if turn is None:
            return await self.run_sync(self._queries.begin_turn, channel, user_id, update_id, conversation)
        row = await turn.fetchrow(_TURN_START[conversation], _turn_start_params(channel, user_id, update_id))
        return _turn_start(row, conversation)

    async def save_turn(
        self,
        channel: str,
        user_id: str,
        *,
        update_id: str | None = None,
        user: User | None = None,
        touch_chat_id: str | None = None,
        conversation: Conversation | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        """One write transaction for the whole message (see `Storage.save_turn`):
        on SQLite the single writer is held once per message, not per part."""
        queries = self._queries

        def work(conn: Connection) -> None:
            if update_id and not queries.record_update(conn, channel, update_id):
                raise DuplicateUpdate(update_id)
            if conversation is not None:
                queries.save_conversation(conn, channel, user_id, conversation)
            if user is not None:
                queries.save_user(conn, user)
            elif touch_chat_id is not None:
                queries.touch_user(conn, channel, user_id, touch_chat_id)
            if events:
                conn.execute(queries.insert_events, self._event_rows(channel, user_id, events))

        turn = self._current_turn()
        if turn is not None and update_id and conversation is not None:
            # A message on PostgreSQL: one statement, atomic by itself on the
            # turn's autocommit connection (1 round trip, not 6).
            await self._save_turn_at_once(
                turn, channel, user_id, str(update_id), conversation, events, user, touch_chat_id
            )
        else:
            await self.run_sync(work, write=True)
        if conversation is not None:
            conversation.version += 1
        if update_id:
            await self._prune_now_and_then()

    async def _save_turn_at_once(
        self,
        turn: _TurnConnection,
        channel: str,
        user_id: str,
        update_id: str,
        conversation: Conversation,
        turn_events: Sequence[Event],
        user: User | None,
        touch_chat_id: str | None,
    ) -> None:
        """`save_turn` as one PostgreSQL statement (`_SAVE_TURN`): the update
        id recorded, the conversation saved as version + 1 (created if new),
        the events logged, the user saved (or their chat and last-seen time
        refreshed) if asked, or nothing at all."""
        now = _now()
        saved_user = _user_row(user, now) if user is not None else dict.fromkeys(_USER_COLUMNS)
        params = {
            **{f"user_{name}": value for name, value in saved_user.items()},
            "save_user": user is not None,
            "channel": channel,
            "user_id": user_id,
            "update_id": update_id,
            "user_hash": self.pseudonym(channel, user_id),
            "now": now,
            "flow": conversation.flow,
            "state": conversation.state,
            "data": json.dumps(conversation.data),
            "version": conversation.version,
            "events": json.dumps([{"name": name, "props": scrub_props(props or {})} for name, props in turn_events]),
            "touch": user is None and touch_chat_id is not None,
            "chat_id": touch_chat_id,
        }
        lock_key = turn.key if turn.holds_lock else None
        fresh, saved, unlocked = await turn.fetchrow(_SAVE_TURN, {**params, "lock_key": lock_key})
        if unlocked:
            turn.holds_lock = False
        if not fresh:
            raise DuplicateUpdate(update_id)
        if not saved:
            # Only if the user lock was lost: the update must not stay recorded.
            await turn.fetchrow(_FORGET_UPDATE, {"channel": channel, "update_id": update_id})
            raise ConversationConflict(f"conversation changed since version {conversation.version}")

    # --- status subscriptions ----------------------------------------------
    async def subscribe(self, channel: str, user_id: str, request_code: str) -> None:
        statement = self._insert(subscriptions).values(
            channel=channel, user_id=user_id, request_code=request_code, created_at=_now()
        )
        await self.run_sync(lambda conn: conn.execute(statement.on_conflict_do_nothing()), write=True)

    async def unsubscribe(self, channel: str, user_id: str, request_code: str) -> None:
        statement = delete(subscriptions).where(
            *_is_user(subscriptions, channel, user_id), subscriptions.c.request_code == request_code
        )
        await self.run_sync(lambda conn: conn.execute(statement), write=True)

    async def subscribers(self, request_code: str) -> list[Subscriber]:
        query = (
            select(users.c.channel, users.c.user_id, users.c.chat_id, users.c.language)
            .join(subscriptions, (subscriptions.c.channel == users.c.channel) & (subscriptions.c.user_id == users.c.user_id))
            .where(subscriptions.c.request_code == request_code, users.c.unreachable.is_(False))
            .order_by(subscriptions.c.created_at)
        )
        rows = await self.run_sync(lambda conn: conn.execute(query).all())
        return [Subscriber(row.channel, row.user_id, row.chat_id, row.language) for row in rows]

    # --- analytics and audit -----------------------------------------------
    async def record_event(self, channel: str, user_id: str, name: str, props: dict[str, Any] | None = None) -> None:
        rows = self._event_rows(channel, user_id, [(name, props)])
        await self.run_sync(lambda conn: conn.execute(self._queries.insert_events, rows), write=True)

    def _event_rows(self, channel: str, user_id: str, turn_events: Sequence[Event]) -> list[dict[str, Any]]:
        user_hash = self.pseudonym(channel, user_id)
        at = _now()
        return [
            {"channel": channel, "user_hash": user_hash, "name": name, "props": scrub_props(props or {}), "at": at}
            for name, props in turn_events
        ]

    async def list_events(self, name: str | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
        """Analytics rows (oldest first) for reports: channel, user_hash, name, props, at."""
        query = select(events.c.channel, events.c.user_hash, events.c.name, events.c.props, events.c.at)
        if name is not None:
            query = query.where(events.c.name == name)
        if since is not None:
            query = query.where(events.c.at >= since)
        async with self.transaction() as conn:
            rows = (await conn.execute(query.order_by(events.c.id))).all()
        return [row._asdict() for row in rows]

    async def audit(self, actor: str, action: str, details: dict[str, Any] | None = None) -> None:
        row = {"actor": actor, "action": action, "details": details or {}, "at": _now()}
        await self.run_sync(lambda conn: conn.execute(self._queries.insert_audit, row), write=True)

    async def list_audit(self, actor: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit rows first: actor, action, details, at."""
        query = select(audit_log.c.actor, audit_log.c.action, audit_log.c.details, audit_log.c.at)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        async with self.transaction() as conn:
            rows = (await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))).all()
        return [row._asdict() for row in rows]

    # --- notices for polled channels ----------------------------------------
    async def queue_notices(self, channel: str, user_id: str, notices: Sequence[dict[str, Any]], keep: int) -> None:
        if not notices:
            return
        now = _now()
        rows = [{"channel": channel, "user_id": user_id, "notice": notice, "created_at": now} for notice in notices]
        mine = _is_user(pending_notices, channel, user_id)
        kept = select(pending_notices.c.id).where(*mine).order_by(pending_notices.c.id.desc()).limit(keep)
        trim = delete(pending_notices).where(*mine, pending_notices.c.id.not_in(kept))

        def work(conn: Connection) -> None:
            conn.execute(pending_notices.insert(), rows)
            conn.execute(trim)

        await self.run_sync(work, write=True)

    async def take_notices(self, channel: str, user_id: str) -> list[dict[str, Any]]:
        waiting = (
            select(pending_notices.c.id, pending_notices.c.notice)
            .where(*_is_user(pending_notices, channel, user_id))
            .order_by(pending_notices.c.id)
            .with_for_update(skip_locked=True)  # two polls at once: each notice once
        )

        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(waiting).all()
            if rows:
                conn.execute(delete(pending_notices).where(pending_notices.c.id.in_([row.id for row in rows])))
            return [row.notice for row in rows]

        return await self.run_sync(work, write=True)

    # --- ordering ----------------------------------------------------------
    @contextlib.asynccontextmanager
    async def user_lock(self, channel: str, user_id: str) -> AsyncIterator[None]:
        key = user_actor(channel, user_id)
        # The local lock first: waiters in this process queue in memory
        # instead of each holding a database connection.
        async with self._local_locks.hold(key):
            if not self.is_postgres:
                yield
                return
            async with self._turn_slots, self._advisory_lock(key) as turn:
                token = _turn_connection.set(turn)
                try:
                    yield
                finally:
                    _turn_connection.reset(token)
                    async with turn.busy:  # a statement of a task the turn started finishes first
                        turn.conn = None

    @contextlib.asynccontextmanager
    async def _advisory_lock(self, key: str) -> AsyncIterator[_TurnConnection]:
        """A session-level PostgreSQL advisory lock held on a dedicated
        connection (in autocommit mode), so workers in other processes wait
        for it too; yields the turn on that connection. A turn's save
        releases the lock itself (`_SAVE_TURN`), else it is released here."""
        if self._lock_engine is None:
            raise RuntimeError("storage used before init()")
        params = {"key": key}
        async with self._lock_engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            try:
                await _LOCK.fetchrow(driver, params)
            except BaseException:
                # Cancelled mid-acquire: the lock may be ours server-side;
                # ending the session is the only sure release.
                await conn.invalidate()
                raise
            turn = _TurnConnection(self, conn, driver, key)
            released = False
            try:
                yield turn
            finally:
                try:
                    released = not turn.holds_lock or bool((await asyncio.shield(_UNLOCK.fetchrow(driver, params)))[0])
                finally:
                    if not released:
                        await conn.invalidate()


class _DriverStatement:
    """A statement compiled once by SQLAlchemy for asyncpg and run on the
    asyncpg connection itself: the per-message statements of a PostgreSQL
    turn. SQLAlchemy's execution layer (greenlet hand-off, execution
    context, result set-up) cost about 0.27 ms of CPU per statement, over
    three times what asyncpg spends on it (storage part of a turn: 1.4 ms
    against 0.3 ms). Parameters go in as asyncpg takes them (JSON as text);
    errors come out as SQLAlchemy's, like those of every other call."""

    def __init__(self, statement) -> None:
        compiled = statement.compile(dialect=PGDialect_asyncpg())
        self.sql = compiled.string
        self._names = compiled.positiontup or []
        self._literals = {name: value for name, value in compiled.params.items() if value is not None}

    async def fetchrow(self, driver: asyncpg.Connection, params: Mapping[str, Any]) -> asyncpg.Record | None:
        values = {**self._literals, **params}
        with _as_sqlalchemy_errors(self.sql):
            return await driver.fetchrow(self.sql, *(values[name] for name in self._names))


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


_LOCK = _DriverStatement(text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"))
_UNLOCK = _DriverStatement(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"))


class _TurnConnection:
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

    async def fetchrow(self, statement: _DriverStatement, params: Mapping[str, Any]) -> asyncpg.Record | None:
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
            async with driver.transaction():
                return await conn.run_sync(work, *args)


# The turn (user lock) the current task is in, if any.
_turn_connection: contextvars.ContextVar[_TurnConnection | None] = contextvars.ContextVar("troly_turn", default=None)


def _tables_keyed_by_user() -> list:
    """Every table with `channel` and `user_id` columns (children first):
    `forget_user` empties them, so a new table about users is covered by
    naming its columns that way."""
    return [
        table
        for table in reversed(metadata.sorted_tables)
        if {"channel", "user_id"} <= set(table.c.keys()) and table is not audit_log
    ]


def _tables_keyed_by_hash() -> list:
    """Every table that names its user by the keyed hash (`user_hash`):
    analytics events, unanswered questions; `forget_user` empties them too."""
    return [table for table in metadata.sorted_tables if "user_hash" in table.c]


def _in_transaction(engine: Engine, write: bool, work: Callable[..., Any], args: tuple) -> Any:
    """`work(connection, *args)` on a synchronous engine, committed if `write`."""
    with engine.begin() if write else engine.connect() as conn:
        return work(conn, *args)


# The `users` columns, and those an upsert of a known user overwrites.
_USER_COLUMNS = [column.name for column in users.c]
_USER_UPDATABLE = [name for name in _USER_COLUMNS if name not in ("channel", "user_id", "created_at")]


class _TurnQueries:
    """The per-message statements, built once with bound parameters:
    building a SQLAlchemy statement costs more than SQLite running it.
    Methods take a synchronous `Connection` (see `SqlStorage.run_sync`)."""

    def __init__(self, insert) -> None:
        key = (users.c.channel == bindparam("key_channel"), users.c.user_id == bindparam("key_user_id"))
        self.select_user = select(users).where(*key)
        self.touch_user_statement = update(users).where(*key)
        upsert = insert(users)
        self.upsert_user = upsert.on_conflict_do_update(
            index_elements=[users.c.channel, users.c.user_id],
            set_={name: upsert.excluded[name] for name in _USER_UPDATABLE},
        )
        self.get_or_create_user = _get_or_create_user_statement(insert)
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
        self.turn_start = {wanted: _turn_start_query(wanted) for wanted in (False, True)}

    def begin_turn(
        self, conn: Connection, channel: str, user_id: str, update_id: str | None, conversation: bool
    ) -> TurnStart:
        params = _turn_start_params(channel, user_id, update_id)
        return _turn_start(conn.execute(self.turn_start[conversation], params).one()._mapping, conversation)

    def get_user(self, conn: Connection, channel: str, user_id: str) -> User | None:
        row = conn.execute(self.select_user, {"key_channel": channel, "key_user_id": user_id}).one_or_none()
        return _user(row._mapping) if row else None

    def record_update(self, conn: Connection, channel: str, update_id: str) -> bool:
        """Record an update id; False if it was already recorded."""
        params = {"channel": channel, "update_id": str(update_id), "seen_at": _now()}
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
            "updated_at": _now(),
        }
        if conversation.version == 0:
            result = conn.execute(self.insert_conversation, {"channel": channel, "user_id": user_id, **values})
        else:
            key = {"key_channel": channel, "key_user_id": user_id, "key_version": conversation.version}
            result = conn.execute(self.update_conversation, {**key, **values})
        if result.rowcount != 1:
            raise ConversationConflict(f"conversation changed since version {conversation.version}")

    def save_user(self, conn: Connection, user: User) -> None:
        conn.execute(self.upsert_user, _user_row(user, _now()))

    def touch_user(self, conn: Connection, channel: str, user_id: str, chat_id: str) -> None:
        params = {"key_channel": channel, "key_user_id": user_id, "chat_id": chat_id, "last_seen_at": _now()}
        conn.execute(self.touch_user_statement, params)


def _save_turn_statement() -> _DriverStatement:
    """`_SAVE_TURN`, its user columns taken from the `users` table.

    Data-modifying CTEs run once each, in one snapshot; each write depends on
    the one before: a duplicate update writes nothing, a stale version (or a
    "new" conversation that exists) only the update id, which
    `_save_turn_at_once` then deletes.

    A saved turn also hands its user lock (`:lock_key`) over, saving the
    unlock's round trip: it takes the same lock at transaction level, then
    releases the session-level hold. The transaction-level one goes at
    commit, so the next turn of this user, in any worker, reads what this
    one saved. On a duplicate or a conflict the session lock stays held."""
    columns, updated = _USER_COLUMNS, _USER_UPDATABLE
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
), handed_over AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(hashtextextended(:lock_key, 0))
    WHERE :lock_key IS NOT NULL AND EXISTS (SELECT FROM saved)
)
SELECT EXISTS (SELECT FROM seen) AS fresh, EXISTS (SELECT FROM saved) AS saved,
    CASE WHEN EXISTS (SELECT FROM handed_over) THEN pg_advisory_unlock(hashtextextended(:lock_key, 0)) END AS unlocked
""").bindparams(
        bindparam("now", type_=UtcDateTime()),
        bindparam("data", type_=postgresql.JSONB()),
        bindparam("events", type_=postgresql.JSONB()),
        bindparam("version", type_=Integer()),
        bindparam("save_user", type_=Boolean()),
        bindparam("touch", type_=Boolean()),
        bindparam("chat_id", type_=String()),
        *(bindparam(f"user_{column.name}", type_=column.type) for column in users.c),
    )
    return _DriverStatement(statement)


def _get_or_create_user_statement(insert):
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


_SAVE_TURN = _save_turn_statement()
_GET_OR_CREATE_USER = _DriverStatement(_get_or_create_user_statement(postgresql.insert))
_FORGET_UPDATE = _DriverStatement(
    delete(seen_updates).where(
        seen_updates.c.channel == bindparam("channel"), seen_updates.c.update_id == bindparam("update_id")
    )
)


def _turn_start_query(with_conversation: bool):
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


_TURN_START = {wanted: _DriverStatement(_turn_start_query(wanted)) for wanted in (False, True)}


def _turn_start_params(channel: str, user_id: str, update_id: str | None) -> dict[str, Any]:
    return {"key_channel": channel, "key_user_id": user_id, "key_update_id": str(update_id) if update_id else None}


def _turn_start(row: Mapping[str, Any], conversation: bool) -> TurnStart:
    """A `TurnStart` from a row of `_turn_start_query`."""
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


def _is_user(table, channel: str, user_id: str) -> tuple:
    return table.c.channel == channel, table.c.user_id == user_id


def _user(row: Mapping[str, Any]) -> User:
    return User(**{f.name: row[f.name] for f in fields(User)})


def _user_row(user: User, now: datetime) -> dict[str, Any]:
    """The `users` row saving `user` writes: its timestamps default to `now`."""
    row = {f.name: getattr(user, f.name) for f in fields(User)}
    row["created_at"] = row["created_at"] or now
    row["last_seen_at"] = row["last_seen_at"] or now
    return row


def _replace_identity(value: Any, identities: set[str], pseudonym: str) -> Any:
    if isinstance(value, dict):
        return {key: _replace_identity(item, identities, pseudonym) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_identity(item, identities, pseudonym) for item in value]
    return pseudonym if isinstance(value, str) and value in identities else value


def _replace_if_closed(dbapi_connection, _record, _proxy) -> None:
    """Pool checkout: a connection whose server has gone (asyncpg knows
    without a round trip) is reconnected instead of failing a turn. All
    the pool's connections go at once when PostgreSQL restarts, more than
    one message's retries."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """SQLite for a bot: WAL (readers never block the writer), a busy
    timeout instead of "database is locked" when another process writes,
    and enforced foreign keys."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",  # durable at checkpoints; safe with WAL
            f"PRAGMA busy_timeout={busy_timeout_ms}",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()
