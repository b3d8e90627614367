"""Loading the knowledge data: parses the YAML files into dated records,
validating structure, dates, sources, both languages, the required entries
and the rule for content (`checks`), and collects every problem found."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from domain.fees import load_fee_rules
from domain.knowledge.checks import fee_wording_problems, wording_problems
from domain.knowledge.model import ANSWER_TOPICS, CONFIDENCES, LANGUAGES, STATUS_CODES, Problem, Record, Source

KNOWLEDGE_DIR = Path(__file__).parent.parent / "data" / "knowledge"
KNOWLEDGE_FILES = ("facts", "answers", "guide", "statuses", "eligibility", "payment", "contacts", "safety")
METADATA_KEYS = {"effective_from", "effective_to", "confidence", "sources", "last_checked"}
# A file may set `last_checked: YYYY-MM-DD` for all its records; a record may set its own.
FILE_CHECKED_KEY = "last_checked"
FLAGS = {"draft", "historical", "design_proposal"}
# Named text fields some files need on every record.
REQUIRED_FIELDS = {"guide": ("title", "body", "problems"), "statuses": ("plain", "next_step")}
GUIDE_STEP_RANGE = (5, 8)


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _is_text(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= set(LANGUAGES)


class KnowledgeLoader:
    """Parses and validates the YAML files, collecting every problem found."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[Problem] = []
        self.registry: dict[str, Source] = {}
        self.records: dict[str, list[Record]] = {}  # "file.key" -> versions, oldest first
        self.aliases: dict[str, str] = {}  # "file.key" -> "file.key"
        self.joins: dict[str, tuple[str, ...]] = {}  # "file.key" -> the "file.key"s answered together
        self.file_checked: dict[str, date | None] = {}  # file -> its last_checked

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
            self.file_checked[name] = self.checked_date(name, "last_checked", raw.pop(FILE_CHECKED_KEY, None))
        for name, raw in raw_files.items():
            for key, value in raw.items():
                self.load_entry(name, str(key), value)
        self.check_aliases()
        self.check_coverage()
        self.check_fees()

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
            if isinstance(value["see"], list):
                self.joins[full_key] = tuple(str(target) for target in value["see"])
            else:
                self.aliases[full_key] = str(value["see"])
            return
        versions = value if isinstance(value, list) else [value]
        records = [r for raw in versions if (r := self.parse_record(file, key, raw)) is not None]
        records.sort(key=lambda r: r.effective_from)
        for earlier, later in pairwise(records):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                self.problem(
                    file,
                    key,
                    f"versions overlap: one from {earlier.effective_from} and one from "
                    f"{later.effective_from}; close the earlier with effective_to",
                )
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
            # The languages given: check_languages reports a missing one.
            texts["text"] = {lang: raw[lang] for lang in LANGUAGES if lang in raw}
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
        checked = self.checked_date(file, where, raw.get("last_checked")) or self.file_checked.get(file)
        # A missing date or confidence was reported above; the test also tells the type checker.
        if len(self.problems) > problems_before or start is None or confidence is None:
            return None
        if checked is None and "design_proposal" not in flags:
            self.problem(file, where, "no last_checked date (set it on the record or once for the file)")
        record = Record(file, key, start, end, confidence, sources, texts, lists, flags, extra, checked)
        self.check_wording(record)
        return record

    def checked_date(self, file: str, where: str, raw: Any) -> date | None:
        """A `last_checked` date: when the fact was checked, so never in the future."""
        try:
            checked = _as_date(raw)
        except ValueError as error:
            self.problem(file, where, f"bad last_checked: {error}")
            return None
        if checked is not None and checked > date.today():
            self.problem(file, where, f"last_checked {checked} is in the future")
        return checked

    def resolve_sources(self, file: str, where: str, raw: Any) -> tuple[Source, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw:
            self.problem(file, where, "sources must be a non-empty list of source keys or URLs")
            return ()
        resolved = []
        for entry in raw:
            item = str(entry)
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
                unexpected = set(value) - set(LANGUAGES)
                if path and unexpected:
                    self.problem(
                        file,
                        where,
                        f"{path or 'text'}: unexpected keys {sorted(unexpected)} "
                        "beside vi/en (quote texts that contain commas)",
                    )
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
        for message in wording_problems(record):
            self.problem(record.file, where, message)

    def check_fees(self) -> None:
        """The wording of fees.yml, where the directory has one (its amounts are
        checked by domain.fees; the file is read at start, not hot-reloaded)."""
        path = self.directory / "fees.yml"
        if not path.exists():
            return
        try:
            rules = load_fee_rules(path)
        except (KeyError, TypeError, ValueError, yaml.YAMLError) as error:
            self.problem("fees", "-", f"cannot be read: {error!r}")
            return
        for where, message in fee_wording_problems(rules):
            self.problem("fees", where, message)

    def check_aliases(self) -> None:
        links = list(self.aliases.items())
        links += [(alias, target) for alias, targets in self.joins.items() for target in targets]
        for alias, target in links:
            if target not in self.records:
                file, key = alias.split(".", 1)
                self.problem(file, key, f"'see: {target}' points to nothing")

    def check_coverage(self) -> None:
        """Required keys exist, and answers stay available up to today and beyond."""
        known = set(self.records) | set(self.aliases) | set(self.joins)
        required = [f"answers.{topic}" for topic in ANSWER_TOPICS]
        required += [f"statuses.{code}" for code in STATUS_CODES]
        required += [
            "facts.time_limit_normal",
            "facts.time_limit_long",
            "payment.how_to_pay",
            "payment.if_failed",
            "contacts.receiving_unit",
            "contacts.hotline",
            "contacts.portal",
            "safety.advice",
            "safety.secret_warning",
            "eligibility.account_required",
            "eligibility.how_to_get_level2",
            "eligibility.age_rule",
        ]
        for full_key in required:
            if full_key not in known:
                file, key = full_key.split(".", 1)
                self.problem(file, key, "required entry is missing")
        for full_key, records in self.records.items():
            if full_key.startswith(("answers.", "statuses.", "guide.")) and records[-1].effective_to is not None:
                file, key = full_key.split(".", 1)
                self.problem(
                    file,
                    key,
                    f"the newest version ends {records[-1].effective_to}: add the version "
                    "that follows (or set effective_to: null)",
                )
        steps = [k for k in self.records if k.startswith("guide.")]
        low, high = GUIDE_STEP_RANGE
        if not low <= len(steps) <= high:
            self.problem("guide", "-", f"has {len(steps)} steps; the guide needs {low}-{high}")


def check_knowledge(directory: Path | str | None = None) -> list[Problem]:
    """Every problem in the knowledge data (empty when it is fine)."""
    return check_report(directory)[0]


def check_report(directory: Path | str | None = None) -> tuple[list[Problem], str]:
    """The problems found, and a one-line summary of what was checked."""
    loader = KnowledgeLoader(Path(directory) if directory else KNOWLEDGE_DIR)
    loader.run()
    versions = sum(len(records) for records in loader.records.values())
    summary = f"{len(loader.records)} entries, {versions} versions, {len(loader.registry)} sources"
    return loader.problems, summary
