"""The broadcast vocabulary: segments, broadcasts, outbox rows and reports.

A broadcast is one announcement for one segment of citizens. When it is due,
its recipients are written to the outbox (`broadcast_deliveries`), one row per
recipient, and delivery workers move each row through these states:

    pending --claim--> in_flight --sent--> sent
       ^                  |  \\--403--> unreachable
       |   429 / network  |   \\--gave up / refused--> failed
       +------------------+
    pending --opted out / cancelled / forgotten--> skipped

A row is `in_flight` only between its claim and the persisted result, so
after a crash only those rows can be sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class DeliveryState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    SKIPPED = "skipped"


FINAL_STATES = frozenset({DeliveryState.SENT, DeliveryState.UNREACHABLE, DeliveryState.FAILED, DeliveryState.SKIPPED})


class BroadcastStatus(StrEnum):
    DRAFT = "draft"  # composed in chat, previewed, waiting for the admin's confirmation
    SCHEDULED = "scheduled"  # waiting for `scheduled_at`; recipients not chosen yet
    SENDING = "sending"  # outbox written; workers deliver
    DONE = "done"  # every row reached a final state
    CANCELLED = "cancelled"


SEGMENT_KEYS = ("channel", "province", "commune", "language", "source", "following")


class SegmentError(ValueError):
    """A segment the user wrote that we cannot understand."""


@dataclass(frozen=True)
class Segment:
    """Who receives a broadcast. Empty = everyone; several values of one key
    mean any of them; several keys must all match.

    `source` matches the outreach deep-link payload by prefix (a poster's
    place, or place and staff); `following` is `any` (citizens following at
    least one request) or a request status such as `returned`."""

    channel: tuple[str, ...] = ()
    province: tuple[str, ...] = ()
    commune: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    following: tuple[str, ...] = ()

    @classmethod
    def parse(cls, terms: list[str] | tuple[str, ...]) -> Segment:
        """From command-line terms: `everyone`, or `key=value[,value...]`
        with keys from `SEGMENT_KEYS` (repeat a term to AND keys)."""
        values: dict[str, list[str]] = {}
        for raw_term in terms:
            term = raw_term.strip()
            if term in ("", "everyone", "all"):
                continue
            key, sep, raw = term.partition("=")
            key = key.strip().lower()
            if not sep or key not in SEGMENT_KEYS:
                raise SegmentError(
                    f"segment term {term!r}: write everyone or KEY=VALUE with KEY one of {', '.join(SEGMENT_KEYS)}"
                )
            items = [item.strip() for item in raw.split(",") if item.strip()]
            if not items:
                raise SegmentError(f"segment term {term!r} has no value")
            values.setdefault(key, []).extend(items)
        return cls(**{key: tuple(dict.fromkeys(items)) for key, items in values.items()})

    @classmethod
    def from_json(cls, data: dict[str, list[str]]) -> Segment:
        return cls(**{key: tuple(data.get(key, ())) for key in SEGMENT_KEYS})

    def to_json(self) -> dict[str, list[str]]:
        return {key: list(getattr(self, key)) for key in SEGMENT_KEYS if getattr(self, key)}

    def describe(self) -> str:
        """A short human description, e.g. `province=79 language=vi`."""
        parts = [f"{key}={','.join(getattr(self, key))}" for key in SEGMENT_KEYS if getattr(self, key)]
        return " ".join(parts) or "everyone"


@dataclass
class Broadcast:
    id: int
    created_by: str
    text: str
    segment: Segment
    status: BroadcastStatus
    scheduled_at: datetime
    created_at: datetime
    image: bytes | None = None
    link_title: str | None = None
    link_url: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recipients: int = 0


@dataclass(frozen=True)
class Delivery:
    """One claimed outbox row: what a worker needs to send it."""

    id: int
    broadcast_id: int
    channel: str
    user_id: str
    chat_id: str
    attempts: int  # including the one now in flight


@dataclass
class Report:
    """How far a broadcast got: rows per state."""

    broadcast_id: int
    status: BroadcastStatus
    counts: dict[DeliveryState, int] = field(default_factory=dict)

    def count(self, state: DeliveryState) -> int:
        return self.counts.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(number for state, number in self.counts.items() if state in FINAL_STATES)

    def as_dict(self) -> dict[str, object]:
        return {
            "broadcast": self.broadcast_id,
            "status": str(self.status),
            "total": self.total,
            **{str(state): self.count(state) for state in DeliveryState},
        }
