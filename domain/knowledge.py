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

The rule for content (shared/domain/README.md) is enforced here as far as
data can show it: low and unverified texts must be phrased with caution,
unverified ones must also point to an official channel, drafts must say
"dự thảo"/"draft", and an outdated authority ("Sở Tư pháp", "huyện",
district police) may only be mentioned as past or as "not".
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

KNOWLEDGE_DIR = Path(__file__).parent / "data" / "knowledge"
LANGUAGES = ("vi", "en")
CONFIDENCES = ("high", "medium", "low", "unverified")
STATABLE = ("high", "medium")
KNOWLEDGE_FILES = ("facts", "answers", "guide", "statuses", "eligibility", "payment", "contacts", "safety")
METADATA_KEYS = {"effective_from", "effective_to", "confidence", "sources"}
FLAGS = {"draft", "historical", "design_proposal"}
# Named text fields some files need on every record.
REQUIRED_FIELDS = {"guide": ("title", "body", "problems"), "statuses": ("plain", "next_step")}

ANSWER_TOPICS = (
    "account_help", "certificate_types", "documents_needed", "fee_info", "payment_help",
    "processing_time", "get_certificate", "paper_delivery", "validity", "human_handoff",
    "who_issues", "law_107", "lost_phone", "child_request", "abroad", "scams", "out_of_scope",
)
STATUS_CODES = (
    "AWAITING_PAYMENT", "RECEIVED", "PROCESSING", "VERIFYING", "NEEDS_INFO", "COMPLETED", "REJECTED", "CANCELLED",
)
GUIDE_STEP_RANGE = (5, 8)

# Words that make a sentence cautious, and the official channels an
# unverified item must refer to (README "The rule for content").
HEDGES = {
    "vi": ("có thể", "theo một số nguồn", "chưa được xác nhận", "chưa được công bố", "chưa rõ", "dự kiến", "dự thảo"),
    "en": ("may ", "might", "some sources", "not confirmed", "not been published", "unclear", "planned", "draft"),
}
REFERRALS = ("vneid", "dichvucong.gov.vn", "1900 0368", "công an", "police")
DRAFT_WORDS = {"vi": "dự thảo", "en": "draft"}
# An outdated authority may be named only in a sentence that says it is past or not.
OUTDATED_TERMS = re.compile(r"sở tư pháp|huyện|district police|department of justice|công an cấp huyện", re.I)
PAST_OR_NOT = re.compile(
    r"không còn|trước đây|trước 01/03/2025|không phải|không nộp|đã chuyển|no longer|not |formerly|used to|before",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


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
    as_of: date
    confidence: str


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

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def text(self, lang: str, name: str = "text", **values: object) -> str:
        entry = self.texts[name]
        text = entry.get(lang) or entry["vi"]
        return text.format(**values) if values else text

    def items(self, name: str, lang: str) -> list[str]:
        return [item.get(lang) or item["vi"] for item in self.lists.get(name, ())]

    def answer(self, lang: str, name: str = "text", **values: object) -> Answer:
        return Answer(self.text(lang, name, **values), list(self.sources), self.effective_from, self.confidence)


@dataclass(frozen=True)
class GuideStep:
    key: str
    title: str
    body: str
    problems: list[str]
    image_key: str
    sources: list[Source] = field(default_factory=list)
    confidence: str = "medium"


@dataclass(frozen=True)
class StatusExplanation:
    """Plain words for a mock-backend status (a design proposal, never VNeID's wording)."""

    plain: str
    next_step: str
    time_limit: Answer | None = None


@dataclass(frozen=True)
class CertificateType:
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


# --- loading and validation -------------------------------------------------------------------


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _is_text(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= set(LANGUAGES)


class _Loader:
    """Parses and validates the YAML files, collecting every problem found."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[Problem] = []
        self.registry: dict[str, Source] = {}
        self.records: dict[str, list[Record]] = {}  # "file.key" -> versions, oldest first
        self.aliases: dict[str, str] = {}  # "file.key" -> "file.key"

    def problem(self, file: str, key: str, message: str) -> None:
        self.problems.append(Problem(f"{file}.yml", key, message))

    def run(self) -> None:
        raw_files: dict[str, dict] = {}
        for name in KNOWLEDGE_FILES:
            path = self.directory / f"{name}.yml"
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                self.problem(name, "-", f"file missing: {path}")
                continue
            except yaml.YAMLError as error:
                self.problem(name, "-", f"not valid YAML: {error}")
                continue
            if not isinstance(raw, dict):
                self.problem(name, "-", "must be a mapping of key -> record")
                continue
            raw_files[name] = raw
        self.load_registry(raw_files.get("facts", {}).pop("sources", None))
        for name, raw in raw_files.items():
            for key, value in raw.items():
                self.load_entry(name, str(key), value)
        self.check_aliases()
        self.check_coverage()

    def load_registry(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            self.problem("facts", "sources", "the source registry (key -> {title, url}) is missing")
            return
        for key, entry in raw.items():
            url = entry.get("url", "") if isinstance(entry, dict) else ""
            if not str(url).startswith(("http://", "https://")):
                self.problem("facts", f"sources.{key}", "needs an http(s) url")
                continue
            self.registry[str(key)] = Source(str(entry.get("title") or url), str(url))

    def load_entry(self, file: str, key: str, value: Any) -> None:
        full_key = f"{file}.{key}"
        if isinstance(value, dict) and set(value) == {"see"}:
            self.aliases[full_key] = str(value["see"])
            return
        versions = value if isinstance(value, list) else [value]
        records = [r for raw in versions if (r := self.parse_record(file, key, raw)) is not None]
        records.sort(key=lambda r: r.effective_from)
        for earlier, later in zip(records, records[1:]):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                self.problem(file, key, f"versions overlap: one from {earlier.effective_from} and one from "
                                        f"{later.effective_from}; close the earlier with effective_to")
            elif (later.effective_from - earlier.effective_to).days != 1:
                self.problem(file, key, f"gap between versions: {earlier.effective_to} .. {later.effective_from}")
        if records:
            self.records[full_key] = records

    def parse_record(self, file: str, key: str, raw: Any) -> Record | None:
        if not isinstance(raw, dict):
            self.problem(file, key, "a record must be a mapping")
            return None
        where = key
        problems_before = len(self.problems)
        for required in ("effective_from", "effective_to", "confidence", "sources"):
            if required not in raw:
                self.problem(file, where, f"missing {required}")
        try:
            start, end = _as_date(raw.get("effective_from")), _as_date(raw.get("effective_to"))
        except ValueError as error:
            self.problem(file, where, f"bad date: {error}")
            return None
        if "effective_from" in raw and start is None:
            self.problem(file, where, "effective_from must be a date (YYYY-MM-DD)")
        if start and end and end < start:
            self.problem(file, where, f"effective_to {end} is before effective_from {start}")
        confidence = raw.get("confidence")
        if "confidence" in raw and confidence not in CONFIDENCES:
            self.problem(file, where, f"confidence {confidence!r} is not one of {', '.join(CONFIDENCES)}")
        sources = self.resolve_sources(file, where, raw.get("sources"))
        texts: dict[str, dict[str, str]] = {}
        lists: dict[str, tuple[dict[str, str], ...]] = {}
        extra: dict[str, Any] = {}
        if "vi" in raw or "en" in raw:
            texts["text"] = {lang: raw.get(lang) for lang in LANGUAGES}
        for name, value in raw.items():
            if name in METADATA_KEYS or name in FLAGS or name in LANGUAGES:
                continue
            if _is_text(value):
                texts[name] = value
            elif isinstance(value, list) and value and all(_is_text(item) for item in value):
                lists[name] = tuple(value)
            else:
                extra[name] = value
        if not texts and not lists:
            self.problem(file, where, "has no text (vi/en)")
        for name in REQUIRED_FIELDS.get(file, ()):
            if name not in texts and name not in lists:
                self.problem(file, where, f"missing {name} (vi/en)")
        self.check_languages(file, where, raw)
        flags = frozenset(flag for flag in FLAGS if raw.get(flag))
        if len(self.problems) > problems_before:
            return None
        record = Record(file, key, start, end, confidence, sources, texts, lists, flags, extra)
        self.check_wording(record)
        return record

    def resolve_sources(self, file: str, where: str, raw: Any) -> tuple[Source, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw:
            self.problem(file, where, "sources must be a non-empty list of source keys or URLs")
            return ()
        resolved = []
        for item in raw:
            item = str(item)
            if item.startswith(("http://", "https://")):
                resolved.append(Source(item, item))
            elif item in self.registry:
                resolved.append(self.registry[item])
            else:
                self.problem(file, where, f"unknown source {item!r} (add it to facts.yml sources)")
        return tuple(resolved)

    def check_languages(self, file: str, where: str, value: Any, path: str = "") -> None:
        """Every {vi, en} mapping, however deep, has both languages, non-empty."""
        if isinstance(value, dict):
            if "vi" in value or "en" in value:
                if path and set(value) - set(LANGUAGES):
                    self.problem(file, where, f"{path or 'text'}: unexpected keys {sorted(set(value) - set(LANGUAGES))} "
                                              "beside vi/en (quote texts that contain commas)")
                for lang in LANGUAGES:
                    text = value.get(lang)
                    if not isinstance(text, str) or not text.strip():
                        self.problem(file, where, f"{path or 'text'}: missing {lang} text")
            for name, inner in value.items():
                if name not in LANGUAGES:
                    self.check_languages(file, where, inner, f"{path}.{name}" if path else str(name))
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                self.check_languages(file, where, inner, f"{path}[{index}]")

    def check_wording(self, record: Record) -> None:
        where = f"{record.key} (from {record.effective_from})"
        for lang in LANGUAGES:
            texts = [entry[lang] for entry in record.texts.values()]
            texts += [item[lang] for items in record.lists.values() for item in items]
            whole = " ".join(texts).lower()
            if record.confidence not in STATABLE and not any(h in whole for h in HEDGES[lang]):
                self.problem(record.file, where, f"{record.confidence} fact stated as certain in {lang}: "
                                                 f"phrase it with caution (e.g. {HEDGES[lang][0]!r})")
            if record.confidence == "unverified" and not any(r in whole for r in REFERRALS):
                self.problem(record.file, where, f"unverified fact in {lang} must refer to an official channel "
                                                 "(VNeID, dichvucong.gov.vn, the police unit, 1900 0368)")
            if "draft" in record.flags and DRAFT_WORDS[lang] not in whole:
                self.problem(record.file, where, f"a draft rule must be called {DRAFT_WORDS[lang]!r} in {lang}")
            for text in texts:
                for sentence in _SENTENCE.split(text):
                    if OUTDATED_TERMS.search(sentence) and not PAST_OR_NOT.search(sentence):
                        self.problem(record.file, where, f"presents an outdated authority as current ({lang}): "
                                                         f"{sentence.strip()!r}")

    def check_aliases(self) -> None:
        for alias, target in self.aliases.items():
            if target not in self.records:
                file, key = alias.split(".", 1)
                self.problem(file, key, f"'see: {target}' points to nothing")

    def check_coverage(self) -> None:
        """Required keys exist, and answers stay available up to today and beyond."""
        known = set(self.records) | set(self.aliases)
        required = [f"answers.{topic}" for topic in ANSWER_TOPICS]
        required += [f"statuses.{code}" for code in STATUS_CODES]
        required += ["facts.time_limit_normal", "facts.time_limit_long", "payment.how_to_pay", "payment.if_failed",
                     "contacts.receiving_unit", "contacts.hotline", "contacts.portal", "safety.advice",
                     "safety.secret_warning", "eligibility.account_required", "eligibility.how_to_get_level2",
                     "eligibility.age_rule"]
        for full_key in required:
            if full_key not in known:
                file, key = full_key.split(".", 1)
                self.problem(file, key, "required entry is missing")
        for full_key, records in self.records.items():
            if full_key.startswith(("answers.", "statuses.", "guide.")) and records[-1].effective_to is not None:
                file, key = full_key.split(".", 1)
                self.problem(file, key, f"the newest version ends {records[-1].effective_to}: add the version "
                                        "that follows (or set effective_to: null)")
        steps = [k for k in self.records if k.startswith("guide.")]
        low, high = GUIDE_STEP_RANGE
        if not low <= len(steps) <= high:
            self.problem("guide", "-", f"has {len(steps)} steps; the guide needs {low}-{high}")


def check_knowledge(directory: Path | str | None = None) -> list[Problem]:
    """Every problem in the knowledge data (empty when it is fine)."""
    return check_report(directory)[0]


def check_report(directory: Path | str | None = None) -> tuple[list[Problem], str]:
    """The problems found, and a one-line summary of what was checked."""
    loader = _Loader(Path(directory) if directory else KNOWLEDGE_DIR)
    loader.run()
    versions = sum(len(records) for records in loader.records.values())
    summary = f"{len(loader.records)} entries, {versions} versions, {len(loader.registry)} sources"
    return loader.problems, summary


# --- the knowledge base -----------------------------------------------------------------------


class KnowledgeBase:
    """Read access to validated knowledge; every lookup takes the date in question."""

    def __init__(self, records: dict[str, list[Record]], aliases: dict[str, str], directory: Path) -> None:
        self._records = records
        self._aliases = aliases
        self.directory = directory

    def keys(self, file: str | None = None) -> list[str]:
        keys = list(self._records) + list(self._aliases)
        return [k for k in keys if file is None or k.startswith(f"{file}.")]

    def versions(self, full_key: str) -> list[Record]:
        """Every version of `file.key`, oldest first."""
        full_key = self._aliases.get(full_key, full_key)
        try:
            return list(self._records[full_key])
        except KeyError:
            raise KeyError(f"no knowledge entry {full_key!r}") from None

    def record(self, full_key: str, on: date | None = None) -> Record:
        """The version of `file.key` valid on `on` (today by default)."""
        on = on or date.today()
        for record in self.versions(full_key):
            if record.covers(on):
                return record
        raise LookupError(f"no version of {full_key!r} is valid on {on.isoformat()}")

    def all_records(self) -> list[Record]:
        return [record for records in self._records.values() for record in records]

    def changed_keys(self, newer: KnowledgeBase) -> list[str]:
        """The `file.key` entries added, removed or edited in `newer` (for the
        audit of a hot reload)."""
        mine = {**self._records, **self._aliases}
        theirs = {**newer._records, **newer._aliases}
        return sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))

    # Answers ------------------------------------------------------------------------------------

    def answer(self, topic: str, lang: str, on: date | None = None) -> Answer:
        """The answer to an intent or extra topic, in the version valid on `on`."""
        on = on or date.today()
        if topic not in ANSWER_TOPICS and f"answers.{topic}" not in self._records:
            topic = "out_of_scope"
        record = self.record(f"answers.{topic}", on)
        if record.extra.get("fill") == "fees":
            return self._fee_answer(record, lang, on)
        return record.answer(lang)

    def _fee_answer(self, record: Record, lang: str, on: date) -> Answer:
        """The fee answer: amounts, groups and any possible waiver come from fees.yml."""
        from domain.fees import fee_rules, format_vnd

        rules = fee_rules()
        online = rules.quote(on, "standard", channel="online")
        counter = rules.quote(on, "standard", channel="counter")
        reduced_online = rules.quote(on, "reduced", channel="online")
        reduced_counter = rules.quote(on, "reduced", channel="counter")
        groups = rules.groups
        text = record.text(
            lang,
            online=format_vnd(online.amount_vnd),
            counter=format_vnd(counter.amount_vnd),
            reduced_online=format_vnd(reduced_online.amount_vnd),
            reduced_counter=format_vnd(reduced_counter.amount_vnd),
            extra_copy=format_vnd(online.period.extra_copy_vnd),
            included=rules.included_copies,
            reduced_groups=groups["reduced"]["label"][lang],
            exempt_groups=groups["exempt"]["label"][lang],
            exempt_proof=groups["exempt"]["proof"][lang],
        )
        sources = list(record.sources) + [Source(url, url) for url in online.period.sources]
        starts = [record.effective_from, online.period.valid_from or record.effective_from]
        confidence = record.confidence
        if online.possible_waiver is not None:
            waiver = online.possible_waiver
            text = f"{text}\n\n{waiver.text[lang]}"
            sources += [Source(url, url) for url in waiver.sources]
            starts.append(waiver.valid_from or record.effective_from)
            confidence = _lowest(confidence, waiver.confidence)
        return Answer(text, _unique(sources), max(starts), confidence)

    # Guide --------------------------------------------------------------------------------------

    def guide_steps(self, lang: str, on: date | None = None) -> list[GuideStep]:
        """The VNeID path, step by step, with the common problems at each step."""
        steps = []
        for full_key in self.keys("guide"):
            record = self.record(full_key, on)
            steps.append(GuideStep(
                key=record.key,
                title=record.text(lang, "title"),
                body=record.text(lang, "body"),
                problems=record.items("problems", lang),
                image_key=str(record.extra.get("image_key", record.key)),
                sources=list(record.sources),
                confidence=record.confidence,
            ))
        return steps

    def guide_step_record(self, key_or_index: str | int, on: date | None = None) -> Record:
        keys = self.keys("guide")
        if isinstance(key_or_index, int):
            return self.record(keys[key_or_index], on)
        for full_key in keys:
            record = self.record(full_key, on)
            if key_or_index in (record.key, record.extra.get("image_key")):
                return record
        raise KeyError(f"no guide step {key_or_index!r}")

    def poster_steps(self, lang: str, on: date | None = None) -> list[GuideStep]:
        """The steps marked `poster: true`, for the outreach poster's five pictures."""
        marked = {self.record(k, on).key for k in self.keys("guide") if self.record(k, on).extra.get("poster")}
        return [step for step in self.guide_steps(lang, on) if step.key in marked]

    # Statuses -----------------------------------------------------------------------------------

    def time_limit(self, lang: str, on: date | None = None, longer: bool = False) -> Answer:
        """The legal time limit valid on `on` (the longer one for cases that need verification)."""
        return self.record("facts.time_limit_long" if longer else "facts.time_limit_normal", on).answer(lang)

    def status_explanation(self, status_code: str, lang: str, on: date | None = None) -> StatusExplanation:
        """Plain words for a request's status and what happens next (unknown codes get a referral)."""
        code = status_code.upper() if status_code.upper() in STATUS_CODES else "UNKNOWN"
        record = self.record(f"statuses.{code}", on)
        limit = None
        if "time_limit" in record.extra:
            limit = self.time_limit(lang, on, longer=record.extra["time_limit"] == "long")
        values = {"time_limit": limit.text if limit else ""}
        return StatusExplanation(record.text(lang, "plain", **values), record.text(lang, "next_step", **values), limit)

    # Eligibility, payment, contacts, safety -----------------------------------------------------

    def eligibility(self, on: date | None = None) -> Eligibility:
        """Account, age, certificate types, purposes and who may ask for whom, valid on `on`."""
        on = on or date.today()

        def get(key: str) -> Record:
            return self.record(f"eligibility.{key}", on)

        types = {
            number: CertificateType(number, get(f"phieu{number}_who"), get(f"phieu{number}_shows"),
                                    get(f"phieu{number}_used_for"), get(f"phieu{number}_authorisation"))
            for number in ("1", "2")
        }
        purposes, requesters = {}, {}
        for full_key in self.keys("eligibility"):
            key = full_key.split(".", 1)[1]
            if key.startswith("purpose_"):
                record = get(key)
                kind = record.extra.get("certificate_type")
                purposes[key.removeprefix("purpose_")] = Purpose(key, None if kind is None else str(kind), record)
            elif key.startswith("requester_"):
                record = get(key)
                requesters[key.removeprefix("requester_")] = Requester(key, bool(record.extra.get("in_vneid")), record)
        return Eligibility(on, get("account_required"), get("how_to_get_level2"), get("age_rule"),
                           types, purposes, requesters)

    def payment_help(self, lang: str, on: date | None = None) -> PaymentHelp:
        """How to pay online, and what to do when a payment fails (never a refund promise)."""
        failed = self.record("payment.if_failed", on)
        return PaymentHelp(self.record("payment.how_to_pay", on).answer(lang), failed.answer(lang, "summary"),
                           failed.items("steps", lang))

    def contacts(self, province_code: str | None, lang: str, on: date | None = None) -> Contacts:
        """The receiving police unit for a province, the VNeID hotline and the public-service portal."""
        unit_record = self.record("contacts.receiving_unit", on)
        hotline = self.record("contacts.hotline", on)
        portal = self.record("contacts.portal", on)
        province = _province_phrase(province_code, lang, unit_record.extra.get("name_unverified_codes", ()))
        unit = unit_record.text(lang, "unit", province=province) if province else unit_record.text(lang, "unknown")
        text = "\n".join((unit, hotline.text(lang), portal.text(lang)))
        sources = _unique(list(unit_record.sources) + list(hotline.sources) + list(portal.sources))
        as_of = max(unit_record.effective_from, hotline.effective_from, portal.effective_from)
        return Contacts(unit, str(hotline.extra["number"]), hotline.text(lang), str(portal.extra["url"]),
                        text, sources, as_of)

    def safety(self, lang: str, on: date | None = None) -> Answer:
        """Never share a password, passcode or OTP; install VNeID only from the official stores."""
        return self.record("safety.advice", on).answer(lang)

    def secret_warning(self, lang: str, on: date | None = None) -> str:
        """Said when a user sends something that looks like a password, passcode or OTP."""
        return self.record("safety.secret_warning", on).text(lang)


_CONFIDENCE_ORDER = {name: index for index, name in enumerate(CONFIDENCES)}


def _lowest(*confidences: str) -> str:
    return max(confidences, key=lambda c: _CONFIDENCE_ORDER.get(c, len(CONFIDENCES)))


def _unique(sources: list[Source]) -> list[Source]:
    seen: dict[str, Source] = {}
    for source in sources:
        seen.setdefault(source.url, source)
    return list(seen.values())


def _province_phrase(code: str | None, lang: str, unverified_codes: Any) -> str | None:
    """'tỉnh Cao Bằng' / 'Cao Bang Province'; the bare name where the unit's name is unconfirmed."""
    if not code:
        return None
    from domain.provinces import province_by_code

    province = province_by_code(str(code).zfill(2))
    if province is None:
        return None
    if str(code).zfill(2) in {str(c).zfill(2) for c in unverified_codes or ()}:
        return province.name if lang == "vi" else province.name_en
    is_city = province.full_name.lower().startswith("thành phố")
    if lang == "vi":
        return f"{'thành phố' if is_city else 'tỉnh'} {province.name}"
    return f"{province.name_en} {'City' if is_city else 'Province'}"


# --- the cached loader ------------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[Path, KnowledgeBase] = {}


def _build(directory: Path) -> KnowledgeBase:
    loader = _Loader(directory)
    loader.run()
    if loader.problems:
        raise KnowledgeError(loader.problems)
    return KnowledgeBase(loader.records, loader.aliases, directory)


def load_knowledge(path: Path | str | None = None) -> KnowledgeBase:
    """The validated knowledge base (cached per directory); raises KnowledgeError on bad data."""
    directory = Path(path) if path else KNOWLEDGE_DIR
    with _lock:
        if directory not in _cache:
            _cache[directory] = _build(directory)
        return _cache[directory]


def reload(path: Path | str | None = None) -> KnowledgeBase:
    """Re-read the data; on bad data raise KnowledgeError and keep serving the
    previous version. A running bot calls it through `bot.kb_watch`."""
    directory = Path(path) if path else KNOWLEDGE_DIR
    fresh = _build(directory)
    with _lock:
        _cache[directory] = fresh
    return fresh
