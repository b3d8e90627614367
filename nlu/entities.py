"""Entity extraction: request codes, ID numbers, phones, dates, provinces,
certificate type and number of copies, as Rasa entity dicts.

Rule-based and validated, so a dialogue that asks for one thing can call
`extract` (or one of the `find_*` helpers) on the answer directly. Offsets are
into the NFC form of the text (the text itself, for what phones send).
Values never reach the logs: ID numbers and phones are personal data.
"""

from __future__ import annotations

import re
from datetime import date

from nlu.idnumber import parse_id_number
from nlu.normalize import fold_diacritics, nfc
from nlu.provinces import find_provinces, province_by_code

EXTRACTOR = "RegexEntityExtractor"
GAZETTEER = "LookupEntityExtractor"

# 000.00.PP.HPP-YYMMDD-NNNN (the mock backend's dossier code, facts.md §5).
_REQUEST_CODE = re.compile(
    r"(?<![\w.])(\d{3})\s*\.\s*(\d{2})\s*\.\s*(\d{2})\s*\.\s*h\s*(\d{2})\s*[-–]\s*(\d{6})\s*[-–]\s*(\d{4})(?!\w)"
)
_ID_NUMBER = re.compile(r"(?<![\d+])(\d{3}[ .]?\d{3}[ .]?\d{3}[ .]?\d{3})(?![\d])")
# Vietnamese mobile prefixes after the 2018 renumbering: 03x, 05x, 07x, 08x, 09x.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\s*84|84|0)[\s.\-]?(?:\(0\))?[\s.\-]?((?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9\d)(?:[\s.\-]?\d){7})(?!\d)"
)
_DATE_DMY = re.compile(r"(?<![\d/.\-])(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})(?![\d/.\-])")
_DATE_ISO = re.compile(r"(?<![\d/.\-])(\d{4})-(\d{2})-(\d{2})(?![\d/.\-])")
_DATE_WORDS = re.compile(r"\bngay\s+(\d{1,2})\s*(?:thang\s+|/\s*)(\d{1,2})\s*(?:nam\s+|/\s*)(\d{4})\b")
_NUMBER_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8,
                 "chin": 9, "muoi": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_CERTIFICATE_TYPE = re.compile(
    r"\b(?:phieu|lltp|ly lich tu phap|loai|certificate|type)\s*(?:so\s*|number\s*|no\.?\s*)?"
    r"(1|2|mot|hai|one|two)\b"
)
_COPIES = re.compile(r"\b" + _NUMBER + r"\s*(ban|copy|copies)\b")
_NOT_COPIES = {"bạn", "bàn", "bán"}  # "hai bạn" is two friends, not two copies


def _search_text(text: str) -> str:
    """Folded lower-case text with the same length as `text` (offsets carry over)."""
    folded = fold_diacritics(text)
    lowered = folded.lower()
    return lowered if len(lowered) == len(folded) else "".join(c.lower()[:1] or c for c in folded)


def _entity(entity: str, value, start: int, end: int, extractor: str = EXTRACTOR, **extra) -> dict:
    return {"entity": entity, "value": value, "start": start, "end": end,
            "confidence_entity": 1.0, "extractor": extractor, **extra}


def _valid_yymmdd(digits: str) -> bool:
    try:
        date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
    except ValueError:
        return False
    return True


def _request_codes(search: str) -> list[tuple[str, int, int]]:
    found = []
    for match in _REQUEST_CODE.finditer(search):
        agency, zone, province, province_again, received, sequence = match.groups()
        if province != province_again or province_by_code(province) is None or not _valid_yymmdd(received):
            continue
        found.append((f"{agency}.{zone}.{province}.H{province}-{received}-{sequence}", match.start(), match.end()))
    return found


def find_request_code(text: str) -> str | None:
    """The first dossier code in the text, canonical (`000.00.79.H79-261115-0007`)."""
    codes = _request_codes(_search_text(nfc(text)))
    return codes[0][0] if codes else None


def find_phone(text: str) -> str | None:
    """The first Vietnamese mobile number in the text as `0xxxxxxxxx`."""
    phones = [entity for entity in extract(text) if entity["entity"] == "phone"]
    return phones[0]["value"] if phones else None


def _to_iso(day: int, month: int, year: int) -> str | None:
    try:
        value = date(year, month, day)
    except ValueError:
        return None
    return value.isoformat() if 1900 <= year <= 2100 else None


def _full_year(year: str) -> int:
    if len(year) == 4:
        return int(year)
    short, this_year = int(year), date.today().year % 100
    return 2000 + short if short <= this_year + 1 else 1900 + short


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def extract(text: str) -> list[dict]:
    """All entities in the text, in reading order, as Rasa entity dicts.

    Spans never overlap: a request code's digits are not also read as a date,
    and an ID number is not also read as a phone.
    """
    text = nfc(text)
    search = _search_text(text)
    taken: list[tuple[int, int]] = []
    entities: list[dict] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(entity: dict) -> None:
        taken.append((entity["start"], entity["end"]))
        entities.append(entity)

    for code, start, end in _request_codes(search):
        add(_entity("request_code", code, start, end))
    for match in _ID_NUMBER.finditer(search):
        info = parse_id_number(match.group(1))
        if info is not None and free(*match.span(1)):
            add(_entity("id_number", info.number, *match.span(1)))
    for match in _PHONE.finditer(search):
        if free(*match.span()):
            add(_entity("phone", "0" + re.sub(r"\D", "", match.group(1)), *match.span()))
    for match in _DATE_ISO.finditer(search):
        value = _to_iso(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        if value and free(*match.span()):
            add(_entity("date", value, *match.span()))
    for match in _DATE_WORDS.finditer(search):
        value = _to_iso(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if value and free(*match.span()):
            add(_entity("date", value, *match.span()))
    for match in _DATE_DMY.finditer(search):
        value = _to_iso(int(match.group(1)), int(match.group(3)), _full_year(match.group(4)))
        if value and free(*match.span()):
            add(_entity("date", value, *match.span()))
    for match in _CERTIFICATE_TYPE.finditer(search):
        if free(*match.span()):
            add(_entity("certificate_type", _number(match.group(1)), *match.span()))
    for match in _COPIES.finditer(search):
        count = _number(match.group(1))
        unit = text[match.start(2):match.end(2)].lower()
        if 1 <= count <= 99 and unit not in _NOT_COPIES and free(*match.span()):
            add(_entity("copies", count, *match.span()))
    for found in find_provinces(text):
        if free(found.start, found.end):
            extra = {"former_name": found.former_name} if found.former_name else {}
            add(_entity("province", found.province.name, found.start, found.end, GAZETTEER, **extra))
    return sorted(entities, key=lambda entity: entity["start"])
