"""Working-day arithmetic for legal due dates.

Holidays and the legal limits are dated data (`data/holidays.yml`,
`data/time_limits.yml`); this module only counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class TimeLimit:
    valid_from: date | None
    valid_to: date | None
    normal_days: int
    extended_days: int
    basis: str
    sources: tuple[str, ...]
    confidence: str

    def applies(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date]
    makeup_working_days: frozenset[date]
    first_year: int
    last_year: int

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_working_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (counting starts the next day)."""
        day = start
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


@lru_cache(maxsize=1)
def working_calendar() -> WorkingCalendar:
    raw = yaml.safe_load((DATA / "holidays.yml").read_text(encoding="utf-8"))
    holidays = frozenset(item["date"] for item in raw["holidays"])
    makeup = frozenset(item["date"] for item in raw.get("makeup_working_days", []))
    years = [d.year for d in holidays]
    return WorkingCalendar(holidays, makeup, min(years), max(years))


@lru_cache(maxsize=1)
def time_limits() -> tuple[TimeLimit, ...]:
    raw = yaml.safe_load((DATA / "time_limits.yml").read_text(encoding="utf-8"))
    return tuple(
        TimeLimit(
            valid_from=r["valid_from"],
            valid_to=r["valid_to"],
            normal_days=r["normal_days"],
            extended_days=r["extended_days"],
            basis=r["basis"],
            sources=tuple(r["sources"]),
            confidence=r["confidence"],
        )
        for r in raw["regimes"]
    )


def time_limit_on(received: date) -> TimeLimit:
    return next(limit for limit in time_limits() if limit.applies(received))


def legal_due_date(received: date, extended: bool) -> date:
    """Latest lawful date for the result of a request received on `received`."""
    limit = time_limit_on(received)
    return working_calendar().add_working_days(received, limit.extended_days if extended else limit.normal_days)
