"""A PostgreSQL connection of its own for one small job that runs a single
statement at a time, each atomic by itself (autocommit), straight on the
driver (`DriverStatement`): one round trip, where a transaction of the
shared pool takes six (the pool's ping, BEGIN, the statement, COMMIT). The
outbound path runs one per message or block (`outbound_budget.py`, the
queue's deletes in `outbound.py`). A connection the server closed is
replaced before use; one that fails a statement is dropped and the
statement tried once more on a new one (so each must be safe to repeat)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.pg_turn import DriverStatement


class SideConnection:
    """With `durable=False` its commits do not wait for the disk
    (`synchronous_commit = off`): for state whose last instants a database
    crash may lose without harm."""

    def __init__(self, url: URL, *, durable: bool = True) -> None:
        self.url = url
        self._connect_args = {} if durable else {"server_settings": {"synchronous_commit": "off"}}
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._busy = asyncio.Lock()  # one statement at a time on a connection

    async def fetchrow(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        async with self._busy:
            try:
                return await statement.fetchrow(await self._driver(), params)
            except OperationalError:
                # A connection the server dropped without notice (a restart):
                # once more on a new one. Every statement here may run twice.
                await self._drop()
            try:
                return await statement.fetchrow(await self._driver(), params)
            except Exception:
                await self._drop()
                raise

    async def _driver(self) -> asyncpg.Connection:
        if self._conn is not None and _driver_of(await self._conn.get_raw_connection()).is_closed():
            await self._drop()  # the server closed it: asyncpg knows without a round trip
        if self._conn is None:
            if self._engine is None:
                self._engine = create_async_engine(
                    self.url,
                    pool_size=1,
                    max_overflow=0,
                    isolation_level="AUTOCOMMIT",
                    hide_parameters=True,
                    connect_args=self._connect_args,
                )
            self._conn = await self._engine.connect()
        return _driver_of(await self._conn.get_raw_connection())

    async def close(self) -> None:
        async with self._busy:
            await self._drop()
            if self._engine is not None:
                await self._engine.dispose()
                self._engine = None

    async def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.invalidate()
                await conn.close()


def _driver_of(raw: Any) -> asyncpg.Connection:
    driver = raw.driver_connection
    assert driver is not None, "an open connection has its driver's"
    return driver
