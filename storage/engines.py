"""The database engines `SqlStorage` runs on, per dialect.

PostgreSQL (asyncpg): a pool for short queries and a lock pool whose
connections each hold one turn's user lock and run that turn's statements
(`storage.pg_turn`). SQLite (aiosqlite): the async engine, and a synchronous
pysqlite connection that runs the per-message queries on the event loop
itself, where a turn's transaction costs far less than aiosqlite's thread
hand-offs (see `SqlStorage.run_sync`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.paths import private_file

SUPPORTED_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# How long a query on the event loop waits for another process's SQLite
# write lock before it retries off the loop (the loop stalls meanwhile).
INLINE_BUSY_TIMEOUT_MS = 20

# An INSERT with the dialect's ON CONFLICT clauses.
Insert = Callable[[Table], Any]


def dialect_insert(dialect: str) -> Insert:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def postgres_engines(url: URL, pool_size: int, lock_pool_size: int) -> tuple[AsyncEngine, AsyncEngine]:
    """The pool for short queries and the lock pool."""
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size // 2, pool_pre_ping=True, hide_parameters=True
    )
    # Lock holders wait on their own pool so they can never starve the
    # short queries the locked handlers need.
    # No pre-ping: on asyncpg it costs three round trips per checkout. A
    # connection the server closed (a restart) is replaced at checkout by a
    # local check instead (`_replace_if_closed`); one broken without notice
    # fails its turn once and `retry_transient` (bot/resilience.py) repeats
    # the turn on another connection.
    # No overflow: a connection beyond the pool would be opened for one turn
    # and closed after it (a new server process each time).
    lock_engine = create_async_engine(
        url, pool_size=lock_pool_size, max_overflow=0, isolation_level="AUTOCOMMIT", hide_parameters=True
    )
    event.listen(lock_engine.sync_engine, "checkout", _replace_if_closed)
    return engine, lock_engine


def sqlite_engines(url: URL, pool_size: int) -> tuple[AsyncEngine, Engine]:
    """The async engine and the synchronous one for the event loop."""
    assert url.database is not None  # `SqlStorage` refuses SQLite URLs without a file
    private_file(Path(url.database))
    # The driver opens write transactions itself with BEGIN IMMEDIATE
    # right before the first write (no extra round trip; a write never
    # fails upgrading a read lock); plain SELECTs need no transaction.
    sqlite_args = {"isolation_level": "IMMEDIATE"}
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, connect_args=sqlite_args, hide_parameters=True
    )
    hide_aiosqlite_arguments()
    _tune_sqlite(engine.sync_engine, busy_timeout_ms=10_000)
    # One connection: the event loop runs one transaction at a time.
    inline_engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        pool_size=1,
        max_overflow=0,
        connect_args=sqlite_args,
        hide_parameters=True,
    )
    _tune_sqlite(inline_engine, busy_timeout_ms=INLINE_BUSY_TIMEOUT_MS)
    return engine, inline_engine


class _HideCallArguments(logging.Filter):
    """aiosqlite logs, at DEBUG, each call it runs with its arguments: the
    SQL parameters (OAuth tokens, citizens' words). Keep the call's name."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_call_name(arg) for arg in record.args)
        return True


def _call_name(value: object) -> str:
    if isinstance(value, functools.partial):
        return getattr(value.func, "__qualname__", "a call")
    return type(value).__name__


def hide_aiosqlite_arguments() -> None:
    logger = logging.getLogger("aiosqlite")
    if not any(isinstance(item, _HideCallArguments) for item in logger.filters):
        logger.addFilter(_HideCallArguments())


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
