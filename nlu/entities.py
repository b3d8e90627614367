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

from core.codes import TYPED_REQUEST_CODE
from core.dates import find_dates
from core.textkey import fold_diacritics, nfc
from domain.provinces import province_by_code
from nlu.idnumber import parse_id_number
from nlu.provinces import find_provinces

EXTRACTOR = "RegexEntityExtractor"
GAZETTEER = "LookupEntityExtractor"

_ID_NUMBER = re.compile(r"(?<![\d+])(\d{3}[ .]?\d{3}[ .]?\d{3}[ .]?\d{3})(?![\d])")
# Vietnamese mobile prefixes after the 2018 renumbering: 03x, 05x, 07x, 08x, 09x.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\s*84|84|0)[\s.\-]?(?:\(0\))?[\s.\-]?((?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9\d)(?:[\s.\-]?\d){7})(?!\d)"
)
_NUMBER_WORDS = {
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "nam": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
    "muoi": 10,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
}
_NUMBER = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_CERTIFICATE_TYPE = re.compile(
    r"\b(?:phieu|lltp|ly lich tu phap|loai|certificate|type)\s*(?:so\s*|number\s*|no\.?\s*)?"
    r"(1|2|mot|hai|one|two)\b"
)
_COPIES = re.compile(r"\b" + _NUMBER + r"\s*(ban|copy|copies)\b")
_NOT_COPIES = {"bạn", "bàn", "bán"}  # "hai bạn" is two friends, not two copies
# "bản thứ 3", "the 3rd copy": asking about the Nth copy means N copies.
_NTH_COPY = re.compile(r"\b(?:(ban)\s*thu\s*" + _NUMBER + r"|(\d{1,2})(?:st|nd|rd|th)\s*cop(?:y|ies))\b")


def _search_text(text: str) -> str:
    """Folded lower-case text with the same length as `text` (offsets carry over)."""
    folded = fold_diacritics(text)
    lowered = folded.lower()
    return lowered if len(lowered) == len(folded) else "".join(c.lower()[:1] or c for c in folded)


def _entity(entity: str, value, start: int, end: int, extractor: str = EXTRACTOR, **extra) -> dict:
    return {
        "entity": entity,
        "value": value,
        "start": start,
        "end": end,
        "confidence_entity": 1.0,
        "extractor": extractor,
        **extra,
    }


def _valid_yymmdd(digits: str) -> bool:
    try:
        date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
    except ValueError:
        return False
    return True


def _request_codes(search: str) -> list[tuple[str, int, int]]:
    found = []
    for match in TYPED_REQUEST_CODE.finditer(search):
        agency, zone, province, province_again, received, sequence = match.groups()
        if province != province_again or province_by_code(province) is None or not _valid_yymmdd(received):
            continue
        found.append((f"{agency}.{zone}.{province}.H{province}-{received}-{sequence}", match.start(), match.end()))
    return found


def find_copies(text: str) -> int | None:
    """The number of paper copies the text names ("4 bản", "ba bản"), if any."""
    counts = [entity["value"] for entity in extract(text) if entity["entity"] == "copies"]
    return int(counts[0]) if counts else None


def find_request_code(text: str) -> str | None:
    """The first dossier code in the text, canonical (`000.00.79.H79-261115-0007`)."""
    codes = _request_codes(_search_text(nfc(text)))
    return codes[0][0] if codes else None


def find_phone(text: str) -> str | None:
    """The first Vietnamese mobile number in the text as `0xxxxxxxxx`."""
    phones = [entity for entity in extract(text) if entity["entity"] == "phone"]
    return phones[0]["value"] if phones else None


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
    for value, start, end in find_dates(search):
        if free(start, end):
            add(_entity("date", value.isoformat(), start, end))
    for match in _CERTIFICATE_TYPE.finditer(search):
        if free(*match.span()):
            add(_entity("certificate_type", _number(match.group(1)), *match.span()))
    for match in _COPIES.finditer(search):
        count = _number(match.group(1))
        unit = text[match.start(2) : match.end(2)].lower()
        if 1 <= count <= 99 and unit not in _NOT_COPIES and free(*match.span()):
            add(_entity("copies", count, *match.span()))
    for match in _NTH_COPY.finditer(search):
        count = _number(match.group(2) or match.group(3))
        unit = text[match.start(1) : match.end(1)].lower() if match.group(1) else ""
        if 1 <= count <= 99 and unit not in _NOT_COPIES and free(*match.span()):
            add(_entity("copies", count, *match.span()))
    for found in find_provinces(text):
        if free(found.start, found.end):
            extra = {"former_name": found.former_name} if found.former_name else {}
            add(_entity("province", found.province.name, found.start, found.end, GAZETTEER, **extra))
    return sorted(entities, key=lambda entity: entity["start"])
