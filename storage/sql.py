"""`SqlStorage`: the storage port on SQLAlchemy 2 async, one code path for
SQLite (aiosqlite, one process) and PostgreSQL (asyncpg, several workers).

Dialect differences are confined to a few places: the upsert helper
(`_insert`), the engines (`storage.engines`: SQLite pragmas and
`BEGIN IMMEDIATE` for writes), `user_lock` (a PostgreSQL advisory lock on
top of the process-local lock), `run_sync`, which runs the per-message
queries, and a PostgreSQL turn's own statements (`storage.pg_turn`: the
lock, the turn's first read and the one-statement save of a message).

Per-message work (`begin_turn`, `save_turn` and the methods they share) is
written once as plain synchronous SQLAlchemy Core on a `Connection`
(`storage.turn_queries`). On PostgreSQL `run_sync` executes it through the
async engine. On SQLite it runs on the event loop itself, on a synchronous
pysqlite connection: a turn's short transaction costs less there than
aiosqlite's thread hand-offs. Only another process holding the write lock
can make it wait: then it gives up after a short busy timeout and waits off
the loop, through aiosqlite.

Stores with tables of their own use `run_sync` too for writes a citizen's
message waits for (unanswered questions, handoff tickets): `transaction()`
goes through aiosqlite and holds the single writer across its thread
hand-offs, so under load every other message queued behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.redaction import scrub_props
from storage import chat_history, lookup_locks
from storage.base import (
    Conversation,
    DuplicateUpdate,
    Event,
    Storage,
    Subscriber,
    TurnStart,
    User,
    user_actor,
)
from storage.engines import SUPPORTED_DRIVERS, dialect_insert, postgres_engines, sqlite_engines
from storage.locks import KeyedLocks, leader_lock
from storage.migrations import upgrade_to_head
from storage.outbound_rows import NewOutgoing, Queued, insert_outgoing
from storage.pg_turn import (
    GET_OR_CREATE_USER,
    TURN_START,
    current_turn,
    one_row,
    prepare_turn_statements,
    save_turn_at_once,
    turn_held,
)
from storage.privacy import delete_consented_data, erase_user, keyed_hash, stored_salt
from storage.schema import audit_log, events, of_user, pending_notices, seen_updates, subscriptions, users, utcnow
from storage.turn_queries import TurnQueries, turn_start, turn_start_params, user_from_row


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
        self._insert = dialect_insert(self.dialect)  # INSERT with this dialect's ON CONFLICT clauses
        self._queries = TurnQueries(self._insert)
        self._salt = pseudonym_salt
        self._seen_updates_ttl = seen_updates_ttl
        self._pool_size = pool_size
        self._lock_pool_size = lock_pool_size
        self._engine: AsyncEngine | None = None
        self._lock_engine: AsyncEngine | None = None  # PostgreSQL: connections that hold user locks
        self._sqlite_engine: Engine | None = None  # SQLite: `run_sync` on the event loop
        self._local_locks = KeyedLocks()
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
            self._engine, self._lock_engine = postgres_engines(self.url, self._pool_size, self._lock_pool_size)
        else:
            self._engine, self._sqlite_engine = sqlite_engines(self.url, self._pool_size)
        try:
            await self._migrate()
            if self._salt is None:
                async with self.transaction(write=True) as conn:
                    self._salt = await stored_salt(conn, self._insert)
        except BaseException:
            await self.close()
            raise

    async def open_turn_connections(self) -> None:
        """PostgreSQL: open every connection of the lock pool now, with the
        turn statements run or parsed on each, instead of during a starting
        worker's first messages (a new server process, asyncpg's type
        introspection and the parsing are paid at start-up instead)."""
        if self._lock_engine is None:
            return
        async with contextlib.AsyncExitStack() as opened:
            for _ in range(self._lock_pool_size):
                conn = await opened.enter_async_context(self._lock_engine.connect())
                await prepare_turn_statements((await conn.get_raw_connection()).driver_connection)

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

    # --- transactions ------------------------------------------------------
    @contextlib.asynccontextmanager
    async def transaction(self, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for queries on `storage.schema` tables, for the
        stores in `storage/` that own tables of their own (roles, outbox,
        tokens...).

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
        async with (
            contextlib.nullcontext() if self.is_postgres else self._sqlite_writer,
            self._engine.connect() as conn,
            conn.begin(),
        ):
            yield conn

    async def run_sync(self, work: Callable[..., Any], *args: Any, write: bool = False) -> Any:
        """`work(connection, *args)` in one transaction (committed if `write`,
        `work` being synchronous SQLAlchemy Core), on either database: the
        fast path for short statements (see the module's docstring); in a
        PostgreSQL turn, on the turn's connection."""
        if self._engine is None:
            raise RuntimeError("storage used before init()")
        turn = current_turn(self)
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

    # --- users -------------------------------------------------------------
    async def get_or_create_user(self, channel: str, user_id: str, chat_id: str) -> User:
        params = {"channel": channel, "user_id": user_id, "chat_id": chat_id, "now": utcnow()}
        turn = current_turn(self)
        if turn is not None:  # a new user's first message on PostgreSQL
            return user_from_row(one_row(await turn.fetchrow(GET_OR_CREATE_USER, params)))
        statement = self._queries.get_or_create_user
        row = await self.run_sync(lambda conn: conn.execute(statement, params).one(), write=True)
        return user_from_row(row._mapping)

    async def get_user(self, channel: str, user_id: str) -> User | None:
        return await self.run_sync(self._queries.get_user, channel, user_id)

    async def save_user(self, user: User) -> None:
        await self.run_sync(self._queries.save_user, user, write=True)

    async def forget_user(self, channel: str, user_id: str) -> None:
        user_hash = self.pseudonym(channel, user_id)
        async with self.transaction(write=True) as conn:
            await erase_user(conn, channel, user_id, user_hash)

    async def withdraw_consent(self, channel: str, user_id: str) -> None:
        user_hash = self.pseudonym(channel, user_id)
        async with self.transaction(write=True) as conn:
            await delete_consented_data(conn, channel, user_id, user_hash)

    def pseudonym(self, channel: str, user_id: str) -> str:
        """The user's keyed one-way hash (`storage.privacy.keyed_hash`)."""
        if self._salt is None:
            raise RuntimeError("storage used before init()")
        return keyed_hash(self._salt, channel, user_id)

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
        now = utcnow()
        if now >= self._next_prune:
            self._next_prune = now + timedelta(minutes=10)
            await self.prune_seen_updates()

    async def prune_seen_updates(self, older_than: timedelta | None = None) -> int:
        """Forget update ids older than the platforms' retry window; returns
        how many rows went. Called by `first_time_seen` every 10 minutes."""
        cutoff = utcnow() - (older_than if older_than is not None else self._seen_updates_ttl)
        statement = delete(seen_updates).where(seen_updates.c.seen_at < cutoff)
        return await self.run_sync(lambda conn: conn.execute(statement).rowcount, write=True)

    # --- one handled message ----------------------------------------------
    async def begin_turn(
        self, channel: str, user_id: str, update_id: str | None, *, conversation: bool = True
    ) -> TurnStart:
        turn = current_turn(self)
        if turn is None:
            return await self.run_sync(self._queries.begin_turn, channel, user_id, update_id, conversation)
        row = one_row(await turn.fetchrow(TURN_START[conversation], turn_start_params(channel, user_id, update_id)))
        return turn_start(row, conversation)

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
        replies: NewOutgoing | None = None,
    ) -> Queued | None:
        """One write transaction for the whole message (see `Storage.save_turn`):
        on SQLite the single writer is held once per message, not per part."""
        queries = self._queries
        now = utcnow()

        def work(conn: Connection) -> Queued | None:
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
            return insert_outgoing(conn, replies, now) if replies is not None else None

        turn = current_turn(self)
        if turn is not None and update_id and conversation is not None:
            # A message on PostgreSQL: one statement, atomic by itself on the
            # turn's autocommit connection (one round trip).
            user_hash = self.pseudonym(channel, user_id)
            queued = await save_turn_at_once(
                turn, channel, user_id, str(update_id), conversation, events, user, touch_chat_id, user_hash, replies
            )
        else:
            queued = await self.run_sync(work, write=True)
        if conversation is not None:
            conversation.version += 1
        if update_id:
            await self._prune_now_and_then()
        return queued

    # --- status subscriptions ----------------------------------------------
    async def subscribe(self, channel: str, user_id: str, request_code: str) -> None:
        statement = self._insert(subscriptions).values(
            channel=channel, user_id=user_id, request_code=request_code, created_at=utcnow()
        )
        await self.run_sync(lambda conn: conn.execute(statement.on_conflict_do_nothing()), write=True)

    async def unsubscribe(self, channel: str, user_id: str, request_code: str) -> None:
        statement = delete(subscriptions).where(
            *of_user(subscriptions, channel, user_id), subscriptions.c.request_code == request_code
        )
        await self.run_sync(lambda conn: conn.execute(statement), write=True)

    async def subscribers(self, request_code: str) -> list[Subscriber]:
        query = (
            select(users.c.channel, users.c.user_id, users.c.chat_id, users.c.language)
            .join(
                subscriptions,
                (subscriptions.c.channel == users.c.channel) & (subscriptions.c.user_id == users.c.user_id),
            )
            .where(subscriptions.c.request_code == request_code, users.c.unreachable.is_(False))
            .order_by(subscriptions.c.created_at)
        )
        rows = await self.run_sync(lambda conn: conn.execute(query).all())
        return [Subscriber(row.channel, row.user_id, row.chat_id, row.language) for row in rows]

    # --- status lookups ------------------------------------------------------
    async def lookup_locked_until(self, request_code: str, now: datetime) -> datetime | None:
        return await self.run_sync(lookup_locks.locked_until, self._code_hash(request_code), now)

    async def lookup_failed(self, request_code: str, limit: int, window: timedelta, now: datetime) -> datetime | None:
        code_hash = self._code_hash(request_code)
        return await self.run_sync(lookup_locks.record_failure, self._insert, code_hash, limit, window, now, write=True)

    def _code_hash(self, request_code: str) -> str:
        return self.pseudonym("request", request_code)

    # --- analytics and audit -----------------------------------------------
    async def record_event(self, channel: str, user_id: str, name: str, props: dict[str, Any] | None = None) -> None:
        rows = self._event_rows(channel, user_id, [(name, props)])
        await self.run_sync(lambda conn: conn.execute(self._queries.insert_events, rows), write=True)

    def _event_rows(self, channel: str, user_id: str, turn_events: Sequence[Event]) -> list[dict[str, Any]]:
        user_hash = self.pseudonym(channel, user_id)
        at = utcnow()
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
        row = {"actor": actor, "action": action, "details": details or {}, "at": utcnow()}
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
        now = utcnow()
        rows = [{"channel": channel, "user_id": user_id, "notice": notice, "created_at": now} for notice in notices]
        mine = of_user(pending_notices, channel, user_id)
        kept = select(pending_notices.c.id).where(*mine).order_by(pending_notices.c.id.desc()).limit(keep)
        trim = delete(pending_notices).where(*mine, pending_notices.c.id.not_in(kept))

        def work(conn: Connection) -> None:
            conn.execute(pending_notices.insert(), rows)
            conn.execute(trim)

        await self.run_sync(work, write=True)

    async def take_notices(self, channel: str, user_id: str) -> list[dict[str, Any]]:
        waiting = (
            select(pending_notices.c.id, pending_notices.c.notice)
            .where(*of_user(pending_notices, channel, user_id))
            .order_by(pending_notices.c.id)
            .with_for_update(skip_locked=True)  # two polls at once: each notice once
        )

        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(waiting).all()
            if rows:
                conn.execute(delete(pending_notices).where(pending_notices.c.id.in_([row.id for row in rows])))
            return [row.notice for row in rows]

        return await self.run_sync(work, write=True)

    async def append_history(self, channel: str, user_id: str, entries: Sequence[dict[str, Any]], keep: int) -> None:
        if entries:
            await self.run_sync(chat_history.append, channel, user_id, entries, keep, write=True)

    async def recent_history(self, channel: str, user_id: str, limit: int) -> list[dict[str, Any]]:
        return await self.run_sync(chat_history.recent, channel, user_id, limit)

    async def clear_history(self, channel: str, user_id: str) -> None:
        await self.run_sync(chat_history.clear, channel, user_id, write=True)

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
            if self._lock_engine is None:
                raise RuntimeError("storage used before init()")
            async with self._turn_slots, turn_held(self, self._lock_engine, key):
                yield

    def leader_lock(self, name: str) -> contextlib.AbstractAsyncContextManager[Callable[[], Awaitable[None]] | None]:
        """PostgreSQL: the lock that makes this worker the leader of job
        `name`, on a lock-pool connection (see `storage.locks.leader_lock`)."""
        if self._lock_engine is None:
            raise RuntimeError("storage used before init(), or not on PostgreSQL")
        return leader_lock(self._lock_engine, name)


def _in_transaction(engine: Engine, write: bool, work: Callable[..., Any], args: tuple) -> Any:
    """`work(connection, *args)` on a synchronous engine, committed if `write`."""
    with engine.begin() if write else engine.connect() as conn:
        return work(conn, *args)
