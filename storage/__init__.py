"""The bot's storage: `open_storage(settings)` gives a ready `Storage`.

The port and its records are in `storage.base`; the one implementation,
`storage.sql.SqlStorage`, serves SQLite and PostgreSQL. Schema changes are
Alembic revisions: see `storage.migrations`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from storage.base import Conversation, ConversationConflict, Storage, Subscriber, User, opened, user_actor

if TYPE_CHECKING:
    from bot.config import Settings
    from storage.sql import SqlStorage

__all__ = [
    "Conversation",
    "ConversationConflict",
    "Storage",
    "Subscriber",
    "User",
    "open_storage",
    "opened",
    "resolve_url",
    "storage_from_settings",
    "user_actor",
]

PSEUDONYM_SALT_ENV = "TROLY_PSEUDONYM_SALT"


def resolve_url(url: str, root: Path | None = None) -> str:
    """The storage URL with a relative SQLite path made absolute against the
    project root (so the bot finds its database from any directory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    path = Path(parsed.database)
    if not path.is_absolute():
        if root is None:
            from bot.config import PROJECT_ROOT

            root = PROJECT_ROOT
        path = root / path
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def storage_from_settings(settings: Settings) -> SqlStorage:
    """A `SqlStorage` for `settings.storage.url`, not yet initialised.

    The pseudonym salt (analytics and erased-audit hashes) comes from the
    `TROLY_PSEUDONYM_SALT` environment variable when set; otherwise the
    database keeps a random one of its own.
    """
    from bot.config import secret
    from storage.sql import SqlStorage

    return SqlStorage(resolve_url(settings.storage.url), pseudonym_salt=secret(PSEUDONYM_SALT_ENV))


async def open_storage(settings: Settings) -> SqlStorage:
    """A migrated, connected storage; call `await storage.close()` at exit
    (or use `async with opened(storage_from_settings(settings))`)."""
    storage = storage_from_settings(settings)
    await storage.init()
    return storage
