"""The 12-digit personal ID number (số định danh cá nhân, on the CCCD and the
thẻ căn cước): `PPP G YY RRRRRR` (facts.md §8).

Only the format can be checked; a valid-looking number is never called "real".
Never log an ID number: callers get an `IdNumberInfo`, whose repr hides it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from domain.provinces import ID_CODES_FILE

_TWELVE_DIGITS = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class BirthProvince:
    """The province of birth registration for a 3-digit code."""

    id_code: str
    old_name: str  # the province when the code was assigned (pre-2025)
    name_2025: str  # the province that covers it since 1 July 2025
    confidence: str  # high | medium | unverified (of the 2025 mapping)


@dataclass(frozen=True)
class IdNumberInfo:
    number: str = field(repr=False)
    birth_province: BirthProvince
    sex: str  # "male" | "female"
    birth_year: int

    @property
    def masked(self) -> str:
        """Safe to show back to the user: the last three digits only."""
        return "*" * 9 + self.number[-3:]


@lru_cache(maxsize=1)
def birth_provinces() -> dict[str, BirthProvince]:
    """3-digit ID code -> province (data: domain/data/provinces-2025.csv)."""
    with ID_CODES_FILE.open(encoding="utf-8") as handle:
        return {
            row["id_code"]: BirthProvince(row["id_code"], row["old_province"], row["province_2025"], row["confidence"])
            for row in csv.DictReader(handle)
        }


def parse_id_number(text: str, today: date | None = None) -> IdNumberInfo | None:
    """Check an ID number's format; None when it cannot be one.

    Rules: exactly 12 digits (spaces and dots between groups allowed); a known
    province code; birth year = 1900 + 100 * (G // 2) + YY, not in the future;
    even G = male.
    """
    digits = re.sub(r"[\s.\-]", "", text or "")
    if not _TWELVE_DIGITS.match(digits):
        return None
    province = birth_provinces().get(digits[:3])
    if province is None:
        return None
    century_sex = int(digits[3])
    birth_year = 1900 + 100 * (century_sex // 2) + int(digits[4:6])
    if birth_year > (today or date.today()).year:
        return None
    return IdNumberInfo(
        number=digits,
        birth_province=province,
        sex="male" if century_sex % 2 == 0 else "female",
        birth_year=birth_year,
    )
