"""A PostgreSQL connection of its own for one small job that runs a single
statement at a time, each atomic by itself (autocommit), straight on the
driver (`DriverStatement`): one round trip, where a transaction of the
shared pool takes six (the pool's ping, BEGIN, the statement, COMMIT). The
outbound path runs one per message or block (`outbound_budget.py`, the
queue's deletes in `outbound.py`). A connection that fails is dropped and
a new one opened on the next call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.pg_turn import DriverStatement


class SideConnection:
    def __init__(self, url: URL) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._busy = asyncio.Lock()  # one statement at a time on a connection

    async def fetchrow(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        async with self._busy:
            if self._conn is None:
                if self._engine is None:
                    self._engine = create_async_engine(
                        self.url, pool_size=1, max_overflow=0, isolation_level="AUTOCOMMIT", hide_parameters=True
                    )
                self._conn = await self._engine.connect()
            try:
                driver = (await self._conn.get_raw_connection()).driver_connection
                return await statement.fetchrow(driver, params)
            except Exception:
                await self._drop()
                raise

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
