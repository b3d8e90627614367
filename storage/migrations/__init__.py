"""Alembic migrations for the bot's database (SQLite and PostgreSQL).

`SqlStorage.init()` calls `upgrade_to_head` at every start, so a deployed bot
migrates itself; on PostgreSQL an advisory lock makes several workers
starting together run the upgrade once.

Adding a table (e.g. the broadcast outbox)
------------------------------------------
1. Describe it in `storage/schema.py` (SQLAlchemy Core `Table` on `metadata`),
   with the columns your queries use. Query it through
   `async with storage.transaction(write=True) as conn: await conn.execute(...)`.
   A table holding rows about a citizen names its columns `channel` and
   `user_id`: `forget_user` then erases them too, with no change there.
2. Write the revision, from the project root::

       .venv/bin/alembic -c storage/migrations/alembic.ini revision -m "broadcast outbox"

   This creates `storage/migrations/versions/<rev>_broadcast_outbox.py` whose
   `down_revision` is the current head. Name the revision in order ("0002",
   "0003"...: pass `--rev-id 0002`). Fill `upgrade()` with explicit
   `op.create_table(...)` / `op.create_index(...)` calls and plain `sa.*`
   types (a revision is frozen history: never import `storage.schema` in it).
   `--autogenerate -x url=sqlite+aiosqlite:///var/scratch.sqlite3` drafts it
   against a scratch database; review the draft.
3. Changing a column of an existing table: use
   `with op.batch_alter_table("users") as batch: batch.add_column(...)`, which
   rebuilds the table on SQLite and is a plain ALTER on PostgreSQL.
4. Run `.venv/bin/python -m pytest tests/storage -q`: the contract suite
   upgrades an empty SQLite and PostgreSQL database to head and checks the
   result matches `storage/schema.py` exactly.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for this directory, optionally bound to a connection."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Run every pending revision on `connection` (sync; use `run_sync`)."""
    command.upgrade(alembic_config(connection), "head")
