"""The tables, as SQLAlchemy Core objects the queries in `storage/` use.

The schema itself is created and changed only by Alembic revisions in
`storage/migrations/versions/`; this module must describe the same schema.
`tests/storage/test_contract.py::test_migrations_match_the_table_definitions`
compares the two on SQLite and PostgreSQL, so a table added here without a
revision (or the reverse) fails the suite.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

# Constraint names that are the same on every database, so later revisions
# can drop or alter them by name.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON everywhere, stored as JSONB on PostgreSQL (indexable, compact).
Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database.

    SQLite has no time zones: values are stored as naive UTC and given back
    their UTC zone when read, so callers always compare aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The time to write in a `UtcDateTime` column."""
    return datetime.now(UTC)


def as_aware_utc(value: datetime | str) -> datetime:
    """An aggregate (`min`, `max`) of a `UtcDateTime` column as an aware
    datetime: on SQLite it comes back untyped, as a naive UTC string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# Channel user ids are strings (Telegram ids are numbers, Zalo ids are not).
CHANNEL = String(32)
USER_ID = String(128)


def of_user(table: Table, channel: str, user_id: str) -> tuple:
    """The conditions that pick one citizen's rows of a table keyed by `channel` and `user_id`."""
    return table.c.channel == channel, table.c.user_id == user_id


users = Table(
    "users",
    metadata,
    Column("channel", CHANNEL, primary_key=True),
    Column("user_id", USER_ID, primary_key=True),
    Column("chat_id", USER_ID, nullable=False),
    Column("language", String(8)),
    Column("province_code", String(16)),
    Column("commune_code", String(16)),
    Column("consent_at", UtcDateTime()),
    Column("announcements_opt_out", Boolean, nullable=False, server_default=false()),
    Column("unreachable", Boolean, nullable=False, server_default=false()),
    Column("source", String(128)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("channel", CHANNEL, primary_key=True),
    Column("user_id", USER_ID, primary_key=True),
    Column("flow", String(64), nullable=False),
    Column("state", String(64), nullable=False),
    Column("data", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

seen_updates = Table(
    "seen_updates",
    metadata,
    Column("channel", CHANNEL, primary_key=True),
    Column("update_id", String(128), primary_key=True),
    Column("seen_at", UtcDateTime(), nullable=False, index=True),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("channel", CHANNEL, primary_key=True),
    Column("user_id", USER_ID, primary_key=True),
    Column("request_code", String(64), primary_key=True, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Analytics: who is a keyed hash (`user_hash`), never the channel id, so the
# table can be shared with analysts; `forget_user` still finds the rows.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", CHANNEL, nullable=False),
    Column("user_hash", String(64), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("props", Json, nullable=False),
    Column("at", UtcDateTime(), nullable=False, index=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(160), nullable=False, index=True),
    Column("action", String(64), nullable=False),
    Column("details", Json, nullable=False),
    Column("at", UtcDateTime(), nullable=False, index=True),
)

# Small key/value settings the storage keeps for itself (the audit salt
# when none is configured).
storage_meta = Table(
    "storage_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


# --- roles, broadcasts and their outbox (storage/roles.py, storage/broadcasts/)
# Roles granted in the database (`troly admin grant`); config.yml adds more.
roles = Table(
    "roles",
    metadata,
    Column("channel", CHANNEL, primary_key=True),
    Column("user_id", USER_ID, primary_key=True),
    Column("role", String(16), primary_key=True),  # admin / officer / outreach
    Column("granted_by", String(160), nullable=False),
    Column("granted_at", UtcDateTime(), nullable=False),
)

broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_by", String(160), nullable=False),
    Column("text", Text, nullable=False),
    Column("image", LargeBinary),  # PNG bytes, sent with the text as caption
    Column("link_title", String(64)),
    Column("link_url", String(512)),
    Column("segment", Json, nullable=False),
    Column("status", String(16), nullable=False, index=True),  # scheduled / sending / done / cancelled
    Column("scheduled_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    Column("recipients", Integer, nullable=False, server_default="0"),
)

# The outbox: one row per recipient, worked by `bot.broadcast.worker`.
broadcast_deliveries = Table(
    "broadcast_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("broadcast_id", Integer, ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", CHANNEL, nullable=False),
    Column("user_id", USER_ID, nullable=False),
    Column("chat_id", USER_ID, nullable=False),
    # pending / in_flight / sent / unreachable / failed / skipped
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_by", String(64)),
    Column("lease_until", UtcDateTime()),
    Column("last_error", String(200)),
    Column("finished_at", UtcDateTime()),
    UniqueConstraint("broadcast_id", "channel", "user_id"),
    Index("ix_broadcast_deliveries_claim", "channel", "state", "next_attempt_at"),
    Index("ix_broadcast_deliveries_progress", "broadcast_id", "state"),
)


# --- OAuth tokens of platform accounts (storage/oa_tokens.py) --------------
# One row per account. A refresh writes ahead (`refresh_started_at`) before
# spending the single-use refresh token, and saves the new pair and clears
# the mark in one transaction.
oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("access_expires_at", UtcDateTime(), nullable=False),
    Column("refresh_token", Text, nullable=False),
    # sha256 of the refresh token last given by the operator: a new one in
    # the environment (re-authorisation) replaces the stored pair once.
    Column("seed_fingerprint", String(64), nullable=False),
    Column("refresh_started_at", UtcDateTime()),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# --- officer handoff (storage/handoff_tickets.py) ----------------------------
# A citizen's question handed to the officers' group: open until an officer
# sends `/done` (or the citizen goes back to the bot). The question is kept
# with personal numbers masked; `forget_user` erases the rows. Ids are never
# reused (SQLite AUTOINCREMENT, a PostgreSQL sequence): an officer's reply to
# an old ticket's message must not reach whoever has the id now. `ref`, a
# random tag in the ticket's group messages, binds a reply to them.
handoff_tickets = Table(
    "handoff_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(16)),  # None: a ticket from before revision 0008
    Column("channel", CHANNEL, nullable=False),
    Column("user_id", USER_ID, nullable=False),
    Column("chat_id", USER_ID, nullable=False),
    Column("language", String(8), nullable=False),
    Column("question", Text, nullable=False),
    Column("status", String(8), nullable=False),  # open / closed
    Column("created_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime()),
    Column("closed_by", String(160)),
    Index("ix_handoff_tickets_user", "channel", "user_id", "status"),
    sqlite_autoincrement=True,
)


# Messages for a channel the user's client polls (the web chat): a status
# notice or an officer's answer waits here, surviving restarts, and any
# worker can hand it over.
pending_notices = Table(
    "pending_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", CHANNEL, nullable=False),
    Column("user_id", USER_ID, nullable=False),
    Column("notice", Json, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_pending_notices_user", "channel", "user_id", "id"),
)


# The web chat's conversation as the page shows it (storage/chat_history.py):
# the newest 50 rendered messages per user, restored after a reload. The
# citizen's own typed words are kept only after consent, digits masked.
chat_history = Table(
    "chat_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", CHANNEL, nullable=False),
    Column("user_id", USER_ID, nullable=False),
    Column("entry", Json, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_chat_history_user", "channel", "user_id", "id"),
)

# --- citizens' feedback (storage/feedback.py) -------------------------------
# Questions the bot could not answer, kept for admins to improve the NLU
# data: id, phone and request numbers and e-mails masked, at most 300
# characters, pruned after `feedback.unanswered_keep_days`. Who asked is only
# the events' keyed hash (`user_hash`), which `forget_user` erases by.
unanswered_questions = Table(
    "unanswered_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_hash", String(64), nullable=False, index=True),
    Column("language", String(8), nullable=False),
    Column("guess", String(64), nullable=False),  # the NLU's best guess, or out_of_scope
    # The citizen pressed the guess offered ("did you mean..."): a labelled example.
    Column("confirmed", Boolean, nullable=False, server_default=false()),
    Column("text", String(300), nullable=False),
    Column("normalized", String(300), nullable=False, index=True),  # for counting alike questions
    Column("at", UtcDateTime(), nullable=False, index=True),
    # The platform's id of the message: a turn handled twice (redone after a
    # conflict between workers, or a database retry) keeps its question once.
    Column("update_id", String(128)),
    Index("ux_unanswered_questions_update", "user_hash", "update_id", unique=True),
)


# --- status lookups (storage/lookup_locks.py) --------------------------------
# Wrong proofs of ownership per request code, whoever sent them, so that new
# user ids get no fresh tries at one code. The code only as a keyed hash.
lookup_lockouts = Table(
    "lookup_lockouts",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", UtcDateTime(), nullable=False, index=True),
    Column("locked_until", UtcDateTime()),
)


# --- the outbound queue (storage/outbound.py) -------------------------------
# Replies and notices written down before the update is acknowledged, one
# row per turn's replies, deleted once sent. A row given up (unreachable,
# too old) keeps no content, only its state, for counting.
outbound_messages = Table(
    "outbound_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", CHANNEL, nullable=False),
    Column("chat_id", USER_ID, nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),  # 0: a reply someone waits for
    Column("payload", Json),  # the replies (bot/outbound/codec.py); NULL once given up
    Column("done_parts", Integer, nullable=False, server_default="0"),  # replies already delivered
    # pending / in_flight / riding / unreachable / expired / failed
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_by", String(64)),
    Column("lease_until", UtcDateTime()),
    Column("last_error", String(200)),
    Column("pictures", Text),  # digests of the pictures its payload names (outbound_pictures), space-separated
    Column("update_id", String(128)),  # riding: the webhook update whose response carries its last reply
    Index("ix_outbound_messages_claim", "channel", "state", "next_attempt_at"),
    Index("ix_outbound_messages_chat", "channel", "chat_id", "id"),
)

# Updates a webhook acknowledged before their turn was saved (storage/inbox.py),
# as the platform sent them: deleted once the turn is saved; a worker that
# died first leaves the row, and another handles the update from `retry_at`.
# It names the chat (`chat_id`), which `forget_user` erases by.
inbound_updates = Table(
    "inbound_updates",
    metadata,
    Column("channel", CHANNEL, primary_key=True),
    Column("update_id", String(128), primary_key=True),
    Column("chat_id", USER_ID),
    Column("body", Json, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("retry_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),  # times handled again
    Index("ix_inbound_updates_due", "channel", "retry_at"),
)

# The pictures of queued replies, stored once each by their SHA-256 digest: a
# guide step's picture is in many rows, its 20-30 KB written down only once.
outbound_pictures = Table(
    "outbound_pictures",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("png", LargeBinary, nullable=False),
    Column("stored_at", UtcDateTime(), nullable=False),
)

# The send budget shared by every worker of one bot account (PostgreSQL):
# when the account's next message may leave (a token bucket's theoretical
# arrival time, advanced by each send in one statement).
outbound_budget = Table(
    "outbound_budget",
    metadata,
    Column("channel", CHANNEL, primary_key=True),
    Column("next_free_at", UtcDateTime(), nullable=False),
)
