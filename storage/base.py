"""The storage port: users, conversations and what one handled message
reads and writes go through `Storage`.

One implementation (`storage.sql.SqlStorage`, SQLAlchemy 2 async) serves
SQLite and PostgreSQL; `tests/storage/test_contract.py` runs the same suite
against both. Records are plain dataclasses, so callers never touch ORM
sessions. Tables with a job of their own have a store on `SqlStorage` in
`storage/` (roles, broadcasts, handoff tickets, OAuth tokens, unanswered
questions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from storage.outbound_rows import NewOutgoing, Queued


@dataclass
class User:
    channel: str
    user_id: str
    chat_id: str
    language: str | None = None  # "vi" / "en"; None until chosen or hinted
    province_code: str | None = None  # one of the 34 current provinces
    commune_code: str | None = None
    consent_at: datetime | None = None  # PDPL consent; None = not given / withdrawn
    announcements_opt_out: bool = False
    unreachable: bool = False  # the platform said the user blocked us
    source: str | None = None  # outreach deep-link payload they started from
    created_at: datetime | None = None
    last_seen_at: datetime | None = None


@dataclass
class Conversation:
    """Where a user is in the dialogue: survives restarts."""

    flow: str = "menu"
    state: str = "start"
    data: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable only
    version: int = 0  # optimistic-concurrency counter, bumped on each save


class ConversationConflict(Exception):
    """Another handler saved the conversation since it was loaded (its
    version moved on): reload and handle the message again."""


class DuplicateUpdate(Exception):
    """`save_turn` found its update id already recorded: another handler
    answered this platform update; nothing of this turn was saved."""


@dataclass
class TurnStart:
    """What handling one message starts from (see `Storage.begin_turn`)."""

    duplicate: bool  # the update id was already handled
    user: User | None  # None: a user we have never seen
    conversation: Conversation | None  # None when not asked for


# An analytics event of a turn: its name and small properties.
Event = tuple[str, dict[str, Any] | None]


def user_actor(channel: str, user_id: str) -> str:
    """The audit `actor` for a citizen; `forget_user` replaces it with a hash."""
    return f"{channel}:{user_id}"


@dataclass
class Subscriber:
    channel: str
    user_id: str
    chat_id: str
    language: str | None


class Storage(ABC):
    @abstractmethod
    async def init(self) -> None:
        """Create or migrate the schema (Alembic) and open connections."""

    @abstractmethod
    async def close(self) -> None: ...

    async def open_turn_connections(self) -> None:
        """Before the first message: open what every message will need, so
        a starting worker's first messages do not pay for it."""

    # --- users -----------------------------------------------------------
    @abstractmethod
    async def get_or_create_user(self, channel: str, user_id: str, chat_id: str) -> User: ...

    @abstractmethod
    async def get_user(self, channel: str, user_id: str) -> User | None: ...

    @abstractmethod
    async def save_user(self, user: User) -> None: ...

    @abstractmethod
    async def forget_user(self, channel: str, user_id: str) -> None:
        """Erase everything stored about the user (PDPL right to erasure):
        profile, conversation, subscriptions, events; audit rows keep only
        a one-way hash of the id."""

    @abstractmethod
    async def withdraw_consent(self, channel: str, user_id: str) -> None:
        """Delete what was kept only under the user's consent: their status
        subscriptions and the questions the bot could not answer them."""

    # --- conversation ----------------------------------------------------
    @abstractmethod
    async def load_conversation(self, channel: str, user_id: str) -> Conversation: ...

    @abstractmethod
    async def save_conversation(self, channel: str, user_id: str, conversation: Conversation) -> None:
        """Save if nobody else saved since `conversation` was loaded, and bump
        `conversation.version`; otherwise raise `ConversationConflict`."""

    # --- platform update de-duplication ----------------------------------
    @abstractmethod
    async def first_time_seen(self, channel: str, update_id: str) -> bool:
        """Record an update id; False if it was already recorded."""

    # --- one handled message -----------------------------------------------
    @abstractmethod
    async def begin_turn(
        self, channel: str, user_id: str, update_id: str | None, *, conversation: bool = True
    ) -> TurnStart:
        """Read (never write) what a message starts from: whether its update
        id was already handled, the user, and (if asked) the conversation.
        Call it holding `user_lock`, so an earlier copy of the update has
        finished saving."""

    @abstractmethod
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
        """Commit everything one message changed, all or nothing: the update
        id (`DuplicateUpdate` if already recorded), the user (`user`: the
        whole profile, as `save_user`; or only `touch_chat_id`: the user
        wrote now from this chat, refreshing `chat_id` and `last_seen_at`),
        the conversation (as `save_conversation`, `ConversationConflict` if
        its version moved on), the analytics events, and the turn's
        `replies` in the outbound queue (where they went comes back)."""

    # --- status subscriptions --------------------------------------------
    @abstractmethod
    async def subscribe(self, channel: str, user_id: str, request_code: str) -> None: ...

    @abstractmethod
    async def unsubscribe(self, channel: str, user_id: str, request_code: str) -> None: ...

    @abstractmethod
    async def subscribers(self, request_code: str) -> list[Subscriber]:
        """Who to notify when the request changes (unreachable users left out)."""

    # --- status lookups: wrong proofs per request code ---------------------
    @abstractmethod
    async def lookup_locked_until(self, request_code: str, now: datetime) -> datetime | None:
        """When the code's lock-out (`lookup_failed`) ends, if it is locked at `now`."""

    @abstractmethod
    async def lookup_failed(self, request_code: str, limit: int, window: timedelta, now: datetime) -> datetime | None:
        """Count a wrong proof of ownership for the code, whoever sent it:
        the `limit`-th within `window` locks the code for `window`. When its
        lock-out ends, if it is locked."""

    # --- notices for channels the user polls (web chat) ------------------
    @abstractmethod
    async def queue_notices(self, channel: str, user_id: str, notices: Sequence[dict[str, Any]], keep: int) -> None:
        """Keep rendered messages until the user's client asks for them; only
        the newest `keep` per user are kept."""

    @abstractmethod
    async def take_notices(self, channel: str, user_id: str) -> list[dict[str, Any]]:
        """The user's waiting notices, oldest first, removed as they are taken."""

    # --- a polled channel's conversation, restored after a reload ----------
    @abstractmethod
    async def append_history(self, channel: str, user_id: str, entries: Sequence[dict[str, Any]], keep: int) -> None:
        """Add rendered messages to the user's history; only the newest `keep` are kept."""

    @abstractmethod
    async def recent_history(self, channel: str, user_id: str, limit: int) -> list[dict[str, Any]]:
        """The user's newest `limit` history entries, oldest first."""

    @abstractmethod
    async def clear_history(self, channel: str, user_id: str) -> None:
        """Drop the user's history (consent withdrawn)."""

    # --- analytics and audit ---------------------------------------------
    @abstractmethod
    async def record_event(self, channel: str, user_id: str, name: str, props: dict[str, Any] | None = None) -> None:
        """Analytics event (intent seen, guide finished...): never personal numbers."""

    @abstractmethod
    async def audit(self, actor: str, action: str, details: dict[str, Any] | None = None) -> None:
        """Append to the audit log. A citizen as actor is `user_actor(channel, user_id)`."""

    # --- ordering --------------------------------------------------------
    @abstractmethod
    def user_lock(self, channel: str, user_id: str) -> Any:
        """An async context manager that serialises one user's messages:
        a process-local lock on SQLite, a database advisory lock on
        PostgreSQL so several workers keep the order too."""


@asynccontextmanager
async def opened(storage: Storage) -> AsyncIterator[Storage]:
    await storage.init()
    try:
        yield storage
    finally:
        await storage.close()
