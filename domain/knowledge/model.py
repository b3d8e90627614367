"""The record model of the knowledge base: a dated, sourced, rated record,
what the queries build from records (answers, guide steps, eligibility, ...),
and the validation problem and error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

LANGUAGES = ("vi", "en")
CONFIDENCES = ("high", "medium", "low", "unverified")

# The keys the bot asks for: every answer topic and every mock-backend status.
ANSWER_TOPICS = (
    "account_help",
    "certificate_types",
    "documents_needed",
    "fee_info",
    "payment_help",
    "processing_time",
    "get_certificate",
    "paper_delivery",
    "validity",
    "human_handoff",
    "who_issues",
    "law_107",
    "lost_phone",
    "child_request",
    "abroad",
    "scams",
    "out_of_scope",
)
# What a question may ask about one certificate type, as its records are named (phieu<N>_<aspect>).
CERTIFICATE_ASPECTS = ("who", "shows", "used_for", "authorisation")
STATUS_CODES = (
    "AWAITING_PAYMENT",
    "RECEIVED",
    "PROCESSING",
    "VERIFYING",
    "NEEDS_INFO",
    "COMPLETED",
    "REJECTED",
    "CANCELLED",
)


class KnowledgeError(ValueError):
    """The knowledge data did not pass validation; `problems` says where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Problem:
    """One validation failure, named by file and key."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class Answer:
    """A fact-bearing text with what the flow shows beside it."""

    text: str
    sources: list[Source]
    as_of: date  # the rule's effective date: "theo quy định từ ngày …"
    confidence: str
    checked: date | None = None  # when the fact was last checked against its sources


@dataclass(frozen=True)
class Record:
    """One dated version of a keyed piece of knowledge."""

    file: str
    key: str
    effective_from: date
    effective_to: date | None
    confidence: str
    sources: tuple[Source, ...]
    texts: dict[str, dict[str, str]]  # field ("text" for top-level vi/en) -> lang -> text
    lists: dict[str, tuple[dict[str, str], ...]]  # field -> items, each lang -> text
    flags: frozenset[str]
    extra: dict[str, Any]
    checked: date | None = None  # last_checked: the record's own, else its file's

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def text(self, lang: str, name: str = "text", **values: object) -> str:
        entry = self.texts[name]
        text = entry.get(lang) or entry["vi"]
        return text.format(**values) if values else text

    def items(self, name: str, lang: str) -> list[str]:
        return [item.get(lang) or item["vi"] for item in self.lists.get(name, ())]

    def answer(self, lang: str, name: str = "text", **values: object) -> Answer:
        text = self.text(lang, name, **values)
        return Answer(text, list(self.sources), self.effective_from, self.confidence, self.checked)


@dataclass(frozen=True)
class GuideStep:
    key: str
    title: str
    body: str
    problems: list[str]
    image_key: str
    sources: list[Source] = field(default_factory=list)
    confidence: str = "medium"
    # The simplified phone screen its picture draws: the title bar, the rows,
    # the row to tap (-1: none). Read aloud as the picture's alt text.
    screen_header: str = ""
    screen_items: list[str] = field(default_factory=list)
    screen_highlight: int = -1


@dataclass(frozen=True)
class StatusExplanation:
    """Plain words for a mock-backend status (a design proposal, never VNeID's wording)."""

    plain: str
    next_step: str
    time_limit: Answer | None = None


@dataclass(frozen=True)
class CertificateType:
    """Phiếu 1 or 2: one record per aspect (`CERTIFICATE_ASPECTS`)."""

    number: str
    who: Record
    shows: Record
    used_for: Record
    authorisation: Record


@dataclass(frozen=True)
class Purpose:
    key: str
    certificate_type: str | None  # "1", "2", or None: ask the receiving body
    record: Record


@dataclass(frozen=True)
class Requester:
    key: str
    in_vneid: bool
    record: Record


@dataclass(frozen=True)
class Eligibility:
    """What the eligibility flow needs, each piece a dated, sourced record (`.text(lang)`)."""

    on: date
    account_required: Record
    how_to_get_level2: Record
    age_rule: Record
    certificate_types: dict[str, CertificateType]
    purposes: dict[str, Purpose]
    requesters: dict[str, Requester]


@dataclass(frozen=True)
class PaymentHelp:
    how_to_pay: Answer
    if_failed: Answer
    failed_steps: list[str]


@dataclass(frozen=True)
class Contacts:
    receiving_unit: str
    hotline: str
    hotline_note: str
    portal_url: str
    text: str
    sources: list[Source]
    as_of: date
    checked: date | None = None
