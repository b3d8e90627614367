"""Dates as Vietnamese citizens type them: 14/03/1990, 14-03-1990, 14.03.90,
1990-03-14, "ngày 14 tháng 3 năm 1990". Day first, always."""

from __future__ import annotations

import re
from datetime import date

from core.textkey import fold_diacritics

_DMY = re.compile(r"(?<![\d/.\-])(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})(?![\d/.\-])")
_ISO = re.compile(r"(?<![\d/.\-])(\d{4})-(\d{2})-(\d{2})(?![\d/.\-])")
_WORDS = re.compile(r"\bngay\s+(\d{1,2})\s*(?:thang\s+|/\s*)(\d{1,2})\s*(?:nam\s+|/\s*)(\d{4})\b")


def find_dates(search: str, today: date | None = None) -> list[tuple[date, int, int]]:
    """Every date in `search` (folded, lower-case text) with its span: ISO
    dates first, then written-out ones, then day/month/year. Spans may overlap;
    the caller keeps the first."""
    found = []
    for match in _ISO.finditer(search):
        found.append((_valid(int(match[3]), int(match[2]), int(match[1])), *match.span()))
    for match in _WORDS.finditer(search):
        found.append((_valid(int(match[1]), int(match[2]), int(match[3])), *match.span()))
    for match in _DMY.finditer(search):
        found.append((_valid(int(match[1]), int(match[3]), _full_year(match[4], today)), *match.span()))
    return [(value, start, end) for value, start, end in found if value is not None]


def parse_date(text: str, today: date | None = None) -> date | None:
    """The date when `text` is one date and nothing else, else None."""
    search = fold_diacritics(text).strip().lower()
    for value, start, end in find_dates(search, today):
        if start == 0 and end == len(search):
            return value
    return None


def _valid(day: int, month: int, year: int) -> date | None:
    try:
        value = date(year, month, day)
    except ValueError:
        return None
    return value if 1900 <= year <= 2100 else None


def _full_year(year: str, today: date | None = None) -> int:
    if len(year) == 4:
        return int(year)
    short, this_year = int(year), (today or date.today()).year % 100
    return 2000 + short if short <= this_year + 1 else 1900 + short
