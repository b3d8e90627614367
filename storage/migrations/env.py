"""Alembic environment for the bot's storage, async on SQLite and PostgreSQL.

Two ways in:
- `SqlStorage.init()` runs `upgrade head` on a connection it already holds
  and passes it as `config.attributes["connection"]` (no second engine);
- the `alembic` command line (see alembic.ini) builds an async engine from
  `-x url=...` or `sqlalchemy.url` (the storage URL of config.yml, with a
  relative SQLite path taken from the project root).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from core.paths import PROJECT_ROOT
from storage.schema import metadata
from storage.urls import resolve_url

config = context.config


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: pass the storage URL, e.g. -x url=sqlite+aiosqlite:///var/troly.db")
    return resolve_url(url, PROJECT_ROOT)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: `op.batch_alter_table` rebuilds the
        # table there and is a plain ALTER on PostgreSQL.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_new_engine() -> None:
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    _run(shared)
else:
    if config.config_file_name:  # the command line: show what runs
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_with_new_engine())
