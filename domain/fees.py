"""The LLTP fee calculator: amounts from dated rules in `data/knowledge/fees.yml`.

Used by the fee flow (what a citizen will pay) and by the mock backend (what
its payment gateway charges), so both always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from core.textkey import longest_mention, text_key

FEES_FILE = Path(__file__).parent / "data" / "knowledge" / "fees.yml"

Group = Literal["standard", "reduced", "exempt"]
FilingChannel = Literal["online", "counter"]
GROUPS: tuple[Group, ...] = ("standard", "reduced", "exempt")


@dataclass(frozen=True)
class Rule:
    """A dated fact with its legal basis, sources and confidence."""

    valid_from: date | None
    valid_to: date | None
    channels: tuple[str, ...]
    basis: str
    sources: tuple[str, ...]
    confidence: str

    def applies(self, on: date, channel: str) -> bool:
        return (
            channel in self.channels
            and (self.valid_from is None or self.valid_from <= on)
            and (self.valid_to is None or on <= self.valid_to)
        )


@dataclass(frozen=True)
class FeePeriod(Rule):
    standard_vnd: int
    reduced_vnd: int
    extra_copy_vnd: int


@dataclass(frozen=True)
class PossibleWaiver(Rule):
    text: dict[str, str]


@dataclass(frozen=True)
class FeeQuote:
    amount_vnd: int
    base_vnd: int
    copies_vnd: int
    group: Group
    channel: FilingChannel
    paper_copies: int
    on: date
    period: FeePeriod
    possible_waiver: PossibleWaiver | None  # mentioned to the user, never applied
    group_rule: dict  # the group's entry in fees.yml (label, and for exempt people its own basis)

    def basis(self, lang: str) -> str:
        """The legal basis to show: the group's own (the exemption list) where it has one."""
        own = self.group_rule.get("basis")
        return str(own[lang]) if own else self.period.basis

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.group_rule.get("sources") or ()) if self.group_rule.get("basis") else self.period.sources


@dataclass(frozen=True)
class FeeRules:
    included_copies: int
    periods: tuple[FeePeriod, ...]
    possible_waivers: tuple[PossibleWaiver, ...]
    groups: dict[str, dict]
    last_checked: date | None  # when the rules were last checked, not when they apply

    def group_mentioned(self, text: str) -> Group | None:
        """The fee group a question says its asker is in ("sinh viên", "65 tuổi"), if any."""
        key = f" {text_key(text)} "
        for group in GROUPS:
            rule = self.groups[group]
            if longest_mention(text, rule.get("mentions")):
                return group
            from_age = rule.get("from_age")
            if from_age and any(int(age) >= from_age for age in _AGE.findall(key)):
                return group
        return None

    def quote(
        self,
        on: date,
        group: Group = "standard",
        paper_copies: int = 0,
        channel: FilingChannel = "online",
    ) -> FeeQuote:
        if group not in GROUPS:
            raise ValueError(f"unknown fee group {group!r}")
        if paper_copies < 0:
            raise ValueError("paper_copies must not be negative")
        period = next((p for p in self.periods if p.applies(on, channel)), None)
        if period is None:
            raise LookupError(f"no fee rule for {channel} on {on.isoformat()}")
        waiver = next((w for w in self.possible_waivers if w.applies(on, channel)), None)
        rule = self.groups[group]
        if group == "exempt":
            return FeeQuote(0, 0, 0, group, channel, paper_copies, on, period, waiver, rule)
        base = period.standard_vnd if group == "standard" else period.reduced_vnd
        copies = max(0, paper_copies - self.included_copies) * period.extra_copy_vnd
        return FeeQuote(base + copies, base, copies, group, channel, paper_copies, on, period, waiver, rule)


_AGE = re.compile(r" (\d{1,3}) (?:tuoi|years old|year old|yo) ")


def _rule_fields(raw: dict) -> dict:
    return {
        "valid_from": raw.get("valid_from"),
        "valid_to": raw.get("valid_to"),
        "channels": tuple(raw["channels"]),
        "basis": raw["basis"],
        "sources": tuple(raw["sources"]),
        "confidence": raw["confidence"],
    }


def load_fee_rules(path: Path = FEES_FILE) -> FeeRules:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    periods = tuple(
        FeePeriod(
            **_rule_fields(p),
            standard_vnd=p["standard_vnd"],
            reduced_vnd=p["reduced_vnd"],
            extra_copy_vnd=p["extra_copy_vnd"],
        )
        for p in raw["periods"]
    )
    waivers = tuple(PossibleWaiver(**_rule_fields(w), text=w["text"]) for w in raw.get("possible_waivers", []))
    return FeeRules(raw["included_copies"], periods, waivers, raw["groups"], raw.get("last_checked"))


@lru_cache(maxsize=1)
def fee_rules() -> FeeRules:
    return load_fee_rules()


def quote(on: date, group: Group = "standard", paper_copies: int = 0, channel: FilingChannel = "online") -> FeeQuote:
    return fee_rules().quote(on, group, paper_copies, channel)


def format_vnd(amount: int) -> str:
    """200000 -> '200.000 đ' (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".") + " đ"
