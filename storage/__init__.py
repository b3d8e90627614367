"""The bot's storage. The port and its records are in `storage.base`; the one
implementation, `storage.sql.SqlStorage`, serves SQLite and PostgreSQL and is
built from the configuration by `bot.wiring`. Tables with a job of their own
have a store on it: `storage.roles`, `storage.broadcasts`,
`storage.handoff_tickets`, `storage.oa_tokens`, `storage.feedback`. Schema
changes are Alembic revisions: see `storage.migrations`.
"""

from __future__ import annotations

from storage.base import Conversation, ConversationConflict, Storage, Subscriber, User, opened, user_actor
from storage.urls import resolve_url

__all__ = [
    "Conversation",
    "ConversationConflict",
    "Storage",
    "Subscriber",
    "User",
    "opened",
    "resolve_url",
    "user_actor",
]
