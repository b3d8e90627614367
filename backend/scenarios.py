"""Scenario definitions (data/scenarios.yml) and the demo seed (data/demo.yml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from backend.domain import RequestStatus

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Step:
    to: RequestStatus
    after_hours: float
    reason_vi: str
    reason_en: str


@dataclass(frozen=True)
class Scenario:
    name: str
    title_vi: str
    title_en: str
    extended: bool
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class ScenarioBook:
    scenarios: dict[str, Scenario]
    reasons: dict[str, tuple[str, str]]
    unpaid_expiry_hours: float


@lru_cache(maxsize=1)
def scenario_book() -> ScenarioBook:
    raw = yaml.safe_load((DATA / "scenarios.yml").read_text(encoding="utf-8"))
    scenarios = {
        name: Scenario(
            name=name,
            title_vi=item["title_vi"],
            title_en=item["title_en"],
            extended=bool(item.get("extended", False)),
            steps=tuple(Step(RequestStatus(s["to"]), float(s["after_hours"]), s["vi"], s["en"]) for s in item["steps"]),
        )
        for name, item in raw["scenarios"].items()
    }
    reasons = {key: (value["vi"], value["en"]) for key, value in raw["reasons"].items()}
    return ScenarioBook(scenarios, reasons, float(raw["unpaid_expiry_hours"]))


@lru_cache(maxsize=1)
def demo_data() -> dict:
    return yaml.safe_load((DATA / "demo.yml").read_text(encoding="utf-8"))
