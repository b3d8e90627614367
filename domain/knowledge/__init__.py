"""The knowledge base: every legal or procedural fact the bot states, as
versioned, sourced data in `domain/data/knowledge/*.yml` (fees live in `fees.yml`
and `domain/fees.py`).

Each YAML file maps a key to one record or to a list of dated versions of it.
A record carries `effective_from`, `effective_to` (null = open-ended),
`confidence` (high / medium / low / unverified), `sources` (keys of the
registry in `facts.yml`, or URLs) and its text in Vietnamese and English,
either as top-level `vi`/`en` or as named fields (`title: {vi, en}`). The
version valid on the date in question is chosen, and every answer carries
its sources and the date it applies from, so the bot can say "theo quy định
từ ngày …".

`check_knowledge()` validates the data (used by `troly kb check` and the
tests); `load_knowledge()` refuses data that does not pass, so a running bot
never reloads a broken edit.

The package: `model` (the records and what queries return), `loader` (parsing
and validation), `checks` (the rule for content), `base` (the queries and the
cached loader).
"""

from domain.knowledge.base import KnowledgeBase, load_knowledge, reload
from domain.knowledge.loader import KNOWLEDGE_DIR, KNOWLEDGE_FILES, check_knowledge, check_report
from domain.knowledge.model import (
    ANSWER_TOPICS,
    CONFIDENCES,
    LANGUAGES,
    STATUS_CODES,
    Answer,
    CertificateType,
    Contacts,
    Eligibility,
    GuideStep,
    KnowledgeError,
    PaymentHelp,
    Problem,
    Purpose,
    Record,
    Requester,
    Source,
    StatusExplanation,
)

__all__ = [
    "ANSWER_TOPICS",
    "CONFIDENCES",
    "KNOWLEDGE_DIR",
    "KNOWLEDGE_FILES",
    "LANGUAGES",
    "STATUS_CODES",
    "Answer",
    "CertificateType",
    "Contacts",
    "Eligibility",
    "GuideStep",
    "KnowledgeBase",
    "KnowledgeError",
    "PaymentHelp",
    "Problem",
    "Purpose",
    "Record",
    "Requester",
    "Source",
    "StatusExplanation",
    "check_knowledge",
    "check_report",
    "load_knowledge",
    "reload",
]
