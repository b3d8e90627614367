"""The query API of the knowledge base: every lookup takes the date in
question and answers from the version valid then, with its sources; the
validated base is cached per directory and reloaded without a restart."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

from core.textkey import longest_mention
from domain.fees import fee_rules, format_vnd
from domain.knowledge.loader import KNOWLEDGE_DIR, KnowledgeLoader
from domain.knowledge.model import (
    ANSWER_TOPICS,
    CERTIFICATE_ASPECTS,
    CONFIDENCES,
    STATUS_CODES,
    Answer,
    CertificateType,
    Contacts,
    Eligibility,
    GuideStep,
    KnowledgeError,
    PaymentHelp,
    Purpose,
    Record,
    Requester,
    Source,
    StatusExplanation,
)
from domain.provinces import province_by_code


class KnowledgeBase:
    """Read access to validated knowledge; every lookup takes the date in question."""

    def __init__(
        self,
        records: dict[str, list[Record]],
        aliases: dict[str, str],
        directory: Path,
        joins: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._records = records
        self._aliases = aliases
        self._joins = joins or {}
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
        mine = {**self._records, **self._aliases, **self._joins}
        theirs = {**newer._records, **newer._aliases, **newer._joins}
        return sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))

    # Answers ------------------------------------------------------------------------------------

    def answer(self, topic: str, lang: str, on: date | None = None) -> Answer:
        """The answer to an intent or extra topic, in the version valid on `on`."""
        on = on or date.today()
        key = f"answers.{topic}"
        if key in self._joins:
            return self.joined(self._joins[key], lang, on)
        if topic not in ANSWER_TOPICS and key not in self._records and key not in self._aliases:
            topic = "out_of_scope"
        record = self.record(f"answers.{topic}", on)
        if record.extra.get("fill") == "fees":
            return self._fee_answer(record, lang, on)
        return record.answer(lang)

    def joined(self, full_keys: tuple[str, ...], lang: str, on: date) -> Answer:
        """Several records answered together (`see: [a, b]`): their texts in
        order, every source, the latest effective date, the lowest confidence."""
        answers = [self.record(full_key, on).answer(lang) for full_key in full_keys]
        return Answer(
            "\n\n".join(answer.text for answer in answers),
            _unique([source for answer in answers for source in answer.sources]),
            max(answer.as_of for answer in answers),
            _lowest(*(answer.confidence for answer in answers)),
            _oldest(*(answer.checked for answer in answers)),
        )

    def _fee_answer(self, record: Record, lang: str, on: date) -> Answer:
        """The fee answer: amounts, groups and any possible waiver come from fees.yml."""
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
            exempt_basis=groups["exempt"]["basis"][lang],
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
        checked = _oldest(record.checked, rules.last_checked)
        return Answer(text, _unique(sources), max(starts), confidence, checked)

    # Guide --------------------------------------------------------------------------------------

    def guide_steps(self, lang: str, on: date | None = None) -> list[GuideStep]:
        """The VNeID path, step by step, with the common problems at each step."""
        steps = []
        for full_key in self.keys("guide"):
            record = self.record(full_key, on)
            steps.append(
                GuideStep(
                    key=record.key,
                    title=record.text(lang, "title"),
                    body=record.text(lang, "body"),
                    problems=record.items("problems", lang),
                    image_key=str(record.extra.get("image_key", record.key)),
                    sources=list(record.sources),
                    confidence=record.confidence,
                    **_screen(record.extra.get("screen") or {}, lang),
                )
            )
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

    def guide_step_named(self, text: str, on: date | None = None) -> int | None:
        """The index of the step a question is about, by the words listed with
        each step (`mentions`); None if none matches."""
        return self._named(self.keys("guide"), text, on)

    def purpose_named(self, text: str, on: date | None = None) -> str | None:
        """The purpose (`purpose_<name>` in eligibility.yml) a question names, by its `mentions`."""
        keys = [key for key in self.keys("eligibility") if key.startswith("eligibility.purpose_")]
        index = self._named(keys, text, on)
        return None if index is None else keys[index].removeprefix("eligibility.purpose_")

    def certificate_aspect_named(self, text: str, number: str, on: date | None = None) -> str | None:
        """What a question asks about Phiếu `number` ("1" or "2"): one of
        `CERTIFICATE_ASPECTS`, by the `mentions` of the phieu<N>_<aspect> records."""
        keys = [f"eligibility.phieu{number}_{aspect}" for aspect in CERTIFICATE_ASPECTS]
        index = self._named(keys, text, on)
        return None if index is None else CERTIFICATE_ASPECTS[index]

    def _named(self, full_keys: list[str], text: str, on: date | None) -> int | None:
        """The index of the record whose `mentions` the text contains; the longest match wins."""
        found = [
            (len(match), index)
            for index, full_key in enumerate(full_keys)
            if (match := longest_mention(text, self.record(full_key, on).extra.get("mentions")))
        ]
        return max(found)[1] if found else None

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

    def status_note(self, name: str, lang: str, on: date | None = None, **values: object) -> Answer:
        """A sourced note beside a status (`statuses.<name>`: OVERDUE, CERTIFICATE_EXPIRED...):
        its `plain` and `next_step` texts, filled with `values`."""
        record = self.record(f"statuses.{name}", on)
        text = " ".join(
            part for part in (record.text(lang, "plain", **values), record.text(lang, "next_step", **values)) if part
        )
        return Answer(text, list(record.sources), record.effective_from, record.confidence)

    # Eligibility, payment, contacts, safety -----------------------------------------------------

    def eligibility(self, on: date | None = None) -> Eligibility:
        """Account, age, certificate types, purposes and who may ask for whom, valid on `on`."""
        on = on or date.today()

        def get(key: str) -> Record:
            return self.record(f"eligibility.{key}", on)

        types = {
            number: CertificateType(
                number,
                get(f"phieu{number}_who"),
                get(f"phieu{number}_shows"),
                get(f"phieu{number}_used_for"),
                get(f"phieu{number}_authorisation"),
            )
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
        return Eligibility(
            on, get("account_required"), get("how_to_get_level2"), get("age_rule"), types, purposes, requesters
        )

    def payment_help(self, lang: str, on: date | None = None) -> PaymentHelp:
        """How to pay online, and what to do when a payment fails (never a refund promise)."""
        failed = self.record("payment.if_failed", on)
        return PaymentHelp(
            self.record("payment.how_to_pay", on).answer(lang),
            failed.answer(lang, "summary"),
            failed.items("steps", lang),
        )

    def contacts(self, province_code: str | None, lang: str, on: date | None = None) -> Contacts:
        """The receiving police unit for a province, the VNeID hotline and the public-service portal."""
        unit_record = self.record("contacts.receiving_unit", on)
        hotline = self.record("contacts.hotline", on)
        portal = self.record("contacts.portal", on)
        province = _province_phrase(province_code, lang, unit_record.extra.get("name_unverified_codes", ()))
        unit = unit_record.text(lang, "unit", province=province) if province else unit_record.text(lang, "unknown")
        text = "\n".join((unit, hotline.text(lang), portal.text(lang)))
        sources = _unique(list(unit_record.sources) + list(hotline.sources) + list(portal.sources))
        records = (unit_record, hotline, portal)
        as_of = max(record.effective_from for record in records)
        checked = _oldest(*(record.checked for record in records))
        return Contacts(
            unit,
            str(hotline.extra["number"]),
            hotline.text(lang),
            str(portal.extra["url"]),
            text,
            sources,
            as_of,
            checked,
        )

    def safety(self, lang: str, on: date | None = None) -> Answer:
        """Never share a password, passcode or OTP; install VNeID only from the official stores."""
        return self.record("safety.advice", on).answer(lang)

    def secret_warning(self, lang: str, on: date | None = None) -> str:
        """Said when a user sends something that looks like a password, passcode or OTP."""
        return self.record("safety.secret_warning", on).text(lang)


_CONFIDENCE_ORDER = {name: index for index, name in enumerate(CONFIDENCES)}


def _lowest(*confidences: str) -> str:
    return max(confidences, key=lambda c: _CONFIDENCE_ORDER.get(c, len(CONFIDENCES)))


def _oldest(*checked: date | None) -> date | None:
    """The earliest last-checked date of the facts combined (None if one was never checked)."""
    return None if None in checked else min(d for d in checked if d is not None)


def _unique(sources: list[Source]) -> list[Source]:
    seen: dict[str, Source] = {}
    for source in sources:
        seen.setdefault(source.url, source)
    return list(seen.values())


def _province_phrase(code: str | None, lang: str, unverified_codes: Any) -> str | None:
    """'tỉnh Cao Bằng' / 'Cao Bang Province'; the bare name where the unit's name is unconfirmed."""
    if not code:
        return None
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
    loader = KnowledgeLoader(directory)
    loader.run()
    if loader.problems:
        raise KnowledgeError(loader.problems)
    return KnowledgeBase(loader.records, loader.aliases, directory, loader.joins)


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


def _screen(screen: dict[str, Any], lang: str) -> dict[str, Any]:
    """A guide step's drawn screen in `lang` (Vietnamese where a text has no translation)."""

    def pick(text: dict[str, str] | None) -> str:
        return (text or {}).get(lang) or (text or {}).get("vi") or ""

    return {
        "screen_header": pick(screen.get("header")),
        "screen_items": [pick(item) for item in screen.get("items", [])],
        "screen_highlight": int(screen.get("highlight", -1)),
    }
