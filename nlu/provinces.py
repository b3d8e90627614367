"""The gazetteer: Vietnam's 34 provinces and their communes since 1 July 2025.

Data, not code: the province records of `domain.provinces` (the admin-units
snapshot and the pre-2025 province names) and the common abbreviations in
`nlu/data/province_aliases.yml`.

A pre-2025 province name is mapped to the province that covers it now, with
`former_name` set. A former district is not a unit any more: it is matched
through the communes and wards that carry its name, and every candidate
province is returned so the dialogue can ask which one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import yaml

from core.textkey import clean, fold_diacritics, nfc, text_key
from domain.provinces import ID_CODES_FILE, Commune, Province, all_provinces, province_by_code

ALIASES_FILE = Path(__file__).resolve().parent / "data" / "province_aliases.yml"

# A token: (exact lower token, folded token, start, end).
Token = tuple[str, str, int, int]
T = TypeVar("T")

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_NGRAM = 6
# Words that introduce a unit name; a former district ("huyện", "quận",
# "thị xã") is only a hint, never a current unit.
_UNIT_WORDS = {"tinh", "thanh pho", "tp", "xa", "phuong", "dac khu", "huyen", "quan", "thi xa", "thi tran"}
_FORMER_DISTRICT_WORDS = {"huyen", "quan", "thi xa", "thi tran"}


@dataclass(frozen=True)
class ProvinceMatch:
    province: Province
    text: str  # as the user wrote it
    start: int
    end: int
    former_name: str | None = None  # the pre-2025 province name the user wrote


@dataclass(frozen=True)
class CommuneMatch:
    commune: Commune
    province: Province
    text: str
    start: int
    end: int
    after_district_word: bool = False  # the user wrote "huyện/quận X": X is a former district


def _bare(key: str) -> str:
    for prefix in ("thanh pho ", "tp ", "tinh "):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


@lru_cache(maxsize=1)
def _province_keys() -> tuple[dict[str, Province], dict[str, tuple[Province, str]]]:
    """(current-name keys, former-name keys -> (province, former name))."""
    by_bare = {_bare(text_key(p.name)): p for p in all_provinces()}
    current: dict[str, Province] = {}
    for province in all_provinces():
        for name in (province.name, province.full_name, province.name_en):
            bare = _bare(text_key(name))
            for key in (text_key(name), bare, f"tp {bare}", f"tinh {bare}"):
                current[key] = province
    aliases = yaml.safe_load(ALIASES_FILE.read_text(encoding="utf-8")) or {}
    exact: dict[str, Province] = {}
    for code, forms in (aliases.get("provinces") or {}).items():
        aliased = province_by_code(str(code))
        if aliased is None:
            continue
        for alias in forms.get("folded") or ():
            current[text_key(alias)] = aliased
        for alias in forms.get("exact") or ():
            exact[clean(alias).lower()] = aliased
    former: dict[str, tuple[Province, str]] = {}
    with ID_CODES_FILE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            old, new = clean(row["old_province"]), _bare(text_key(row["province_2025"]))
            successor = by_bare.get(new)
            if successor is None or _bare(text_key(old)) in current:
                continue  # same name as today, or a snapshot without that province
            former[text_key(old)] = (successor, old)
            if " - " in old:  # "Bà Rịa - Vũng Tàu": people write either half too
                for part in old.split(" - "):
                    former.setdefault(text_key(part), (successor, old))
    for key, province in exact.items():
        current[key] = province
    return current, former


def _tokens(text: str) -> list[Token]:
    """(exact lower token, folded token, start, end) over `nfc` text."""
    folded = fold_diacritics(text).lower()
    return [(m.group(0).lower(), folded[m.start() : m.end()], m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _scan(tokens: list[Token], match: Callable[[list[Token], int], list[T] | None]) -> list[T]:
    """Left to right, the longest run of tokens at each place that `match(window, index)`
    takes: None passes it over, a list (even empty) takes it and the scan goes on after it."""
    found: list[T] = []
    index = 0
    while index < len(tokens):
        for size in range(min(_MAX_NGRAM, len(tokens) - index), 0, -1):
            matches = match(tokens[index : index + size], index)
            if matches is not None:
                found.extend(matches)
                index += size
                break
        else:
            index += 1
    return found


def find_provinces(text: str) -> list[ProvinceMatch]:
    """Every province named in the text, longest names first, left to right."""
    current, former = _province_keys()
    text = nfc(text)

    def match(window: list[Token], index: int) -> list[ProvinceMatch] | None:
        folded_key = " ".join(token[1] for token in window)
        exact_key = " ".join(token[0] for token in window)
        start, end = window[0][2], window[-1][3]
        hit = current.get(exact_key) or current.get(folded_key)
        if hit is not None:
            return [ProvinceMatch(hit, text[start:end], start, end)]
        if folded_key in former:
            province, old_name = former[folded_key]
            return [ProvinceMatch(province, text[start:end], start, end, former_name=old_name)]
        return None

    return _scan(_tokens(text), match)


def find_province(text: str) -> ProvinceMatch | None:
    """The first province named in the text, or None."""
    matches = find_provinces(text)
    return matches[0] if matches else None


@lru_cache(maxsize=1)
def _commune_keys() -> dict[str, list[tuple[Commune, Province]]]:
    """Folded commune name -> the communes of that name, each with its province."""
    keys: dict[str, list[tuple[Commune, Province]]] = {}
    for province in all_provinces():
        for commune in province.communes:
            keys.setdefault(text_key(commune.name), []).append((commune, province))
    return keys


def find_communes(text: str, province_code: str | None = None) -> list[CommuneMatch]:
    """Communes and wards named in the text; several = ambiguous, ask the province.

    A former district name ("huyện Củ Chi", "quận Thủ Đức") is matched through
    the current units that carry the name; `after_district_word` tells the
    dialogue the user named an old district, not a current unit.
    """
    keys = _commune_keys()
    wanted = province_by_code(province_code) if province_code else None
    if province_code and wanted is None:
        return []
    text = nfc(text)
    tokens = _tokens(text)

    def match(window: list[Token], index: int) -> list[CommuneMatch] | None:
        key = " ".join(token[1] for token in window)
        if key in _UNIT_WORDS or key not in keys:
            return None
        previous = " ".join(token[1] for token in tokens[max(0, index - 2) : index])
        after_district = any(previous.endswith(word) for word in _FORMER_DISTRICT_WORDS)
        start, end = window[0][2], window[-1][3]
        return [
            CommuneMatch(commune, province, text[start:end], start, end, after_district_word=after_district)
            for commune, province in keys[key]
            if wanted is None or commune.province_code == wanted.code
        ]

    return _scan(tokens, match)


def candidate_provinces(matches: list[CommuneMatch]) -> list[Province]:
    """The distinct provinces among commune matches, in first-seen order."""
    seen: dict[str, Province] = {}
    for match in matches:
        seen.setdefault(match.province.code, match.province)
    return list(seen.values())
