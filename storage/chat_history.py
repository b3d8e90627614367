"""A polled channel's conversation as its page shows it (`chat_history`),
so a reloaded web chat restores it: the newest `keep` rendered messages per
user, oldest first. Rows are keyed by `channel` and `user_id`, so
`erase_user` (forget-me) deletes them. Synchronous Core, run by
`SqlStorage.run_sync`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from storage.schema import chat_history, of_user, utcnow

table = chat_history


def append(conn: Connection, channel: str, user_id: str, entries: Sequence[dict[str, Any]], keep: int) -> None:
    """Add `entries` and drop all but the user's newest `keep`."""
    now = utcnow()
    conn.execute(
        table.insert(),
        [{"channel": channel, "user_id": user_id, "entry": entry, "created_at": now} for entry in entries],
    )
    mine = of_user(table, channel, user_id)
    kept = select(table.c.id).where(*mine).order_by(table.c.id.desc()).limit(keep)
    conn.execute(delete(table).where(*mine, table.c.id.not_in(kept)))


def recent(conn: Connection, channel: str, user_id: str, limit: int) -> list[dict[str, Any]]:
    """The user's newest `limit` entries, oldest first."""
    newest = select(table.c.entry).where(*of_user(table, channel, user_id)).order_by(table.c.id.desc()).limit(limit)
    return [row.entry for row in reversed(conn.execute(newest).all())]


def clear(conn: Connection, channel: str, user_id: str) -> None:
    """Drop the user's whole history."""
    conn.execute(delete(table).where(*of_user(table, channel, user_id)))
