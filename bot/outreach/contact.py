"""The foot of a poster: the place's police unit and a number to call.

The unit comes from the knowledge base for the place's province (given with
`--province`, or found from the commune's name in the province records); the
number is the VNeID hotline, the one phone number the sources confirm (no
provincial office number is sourced). A province's own `contact_line` in
config.yml replaces the unit line.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.textkey import fold_diacritics
from domain.knowledge import load_knowledge
from domain.provinces import Province, all_provinces, province_by_code


@dataclass(frozen=True)
class PosterContact:
    lines: list[str]
    phone: str
    note: str  # for staff, empty when there is nothing to add


def poster_contact(place: str, province_code: str | None, contact_line: str = "") -> PosterContact:
    knowledge = load_knowledge()
    note = ""
    if not province_code and not contact_line:
        matches = provinces_with_commune(place)
        if len(matches) == 1:
            province_code = matches[0].code
        else:
            named = ", ".join(f"{p.code} {p.name}" for p in matches[:6]) or "no province's communes"
            note = f"Police unit: give --province CODE for the place's province ({place!r} matches {named})."
    elif province_code and province_by_code(province_code) is None:
        raise ValueError(f"--province {province_code!r}: not a province code (2 digits, e.g. 75)")
    vi = knowledge.contacts(province_code, "vi")
    en = knowledge.contacts(province_code, "en")
    lines = contact_line.splitlines() if contact_line else [vi.receiving_unit, en.receiving_unit]
    return PosterContact(lines, f"Tổng đài VNeID / VNeID hotline: {vi.hotline}", note)


def provinces_with_commune(place: str) -> list[Province]:
    """Provinces with a commune or ward named in `place` ("Xã Tân Phú", or
    "Thôn 3, xã Tân Phú"): compared without case or diacritics, with or
    without the "xã/phường" word."""
    parts = {_key(part) for part in place.split(",") if part.strip()}
    return [
        province
        for province in all_provinces()
        if any(_key(commune.full_name) in parts or _key(commune.name) in parts for commune in province.communes)
    ]


def _key(name: str) -> str:
    return " ".join(fold_diacritics(name).lower().split())
