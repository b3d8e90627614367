"""Vietnamese text normalisation, so that "Lệ phí bao nhiêu?", "le phi bao nhieu"
and "lp bn vậyyy" meet the same features.

`normalize` keeps diacritics (NFC, one tone-mark placement, lower case,
repeated letters squeezed, teencode expanded); `fold_diacritics` removes them.
`fold_diacritics` maps one NFC character to one character, so offsets found in
folded text are offsets in the NFC text too.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
TEENCODE_FILE = DATA_DIR / "teencode.yml"

_TONE_MARKS = {"\u0300", "\u0301", "\u0309", "\u0303", "\u0323"}  # huyền, sắc, hỏi, ngã, nặng
_WORD = re.compile(r"\w+", re.UNICODE)
_REPEATS = re.compile(r"([^\W\d_])\1{2,}", re.UNICODE)  # letters only: keep "000.00.79"
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACES = re.compile(r"\s+")
# Syllables where old and new orthography put the tone on different vowels:
# oa, oe, uy closing the syllable (hoà/hòa, khoẻ/khỏe, thuỷ/thủy). "qu" + y is
# not one of them: there u belongs to the consonant (quý).
_OLD_NEW_RIMES = re.compile(r"^(.*?)(?<!q)([ou])([aey])$")


def fold_diacritics(text: str) -> str:
    """Text without Vietnamese diacritics (đ -> d), same length as its NFC form."""
    return "".join(_fold_char(char) for char in unicodedata.normalize("NFC", text))


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d" if char == "đ" else "D"
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isascii() or not base.isalpha() else char


def _place_tone(word: str) -> str:
    """One tone-mark placement: the tone sits on the first vowel of a closing
    oa/oe/uy (hòa, khỏe, thủy), whichever way the user's keyboard put it."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [char for char in decomposed if char in _TONE_MARKS]
    if len(tones) != 1:
        return word
    bare = "".join(char for char in decomposed if char not in _TONE_MARKS)
    match = _OLD_NEW_RIMES.match(unicodedata.normalize("NFC", bare))
    if not match:
        return word
    head, first, last = match.groups()
    return unicodedata.normalize("NFC", head + first + tones[0] + last)


@lru_cache(maxsize=1)
def teencode() -> dict[str, str]:
    """Teencode and abbreviations (data: nlu/data/teencode.yml) -> full words."""
    raw = yaml.safe_load(TEENCODE_FILE.read_text(encoding="utf-8")) or {}
    return {str(short).lower(): str(full).lower() for short, full in (raw.get("teencode") or {}).items()}


def nfc(text: str) -> str:
    """NFC with control characters turned into spaces: offsets into this text
    are the offsets the entity extractors report."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text or ""))


def clean(text: str) -> str:
    """NFC, control characters dropped, whitespace collapsed; case kept."""
    return _SPACES.sub(" ", nfc(text)).strip()


def normalize(text: str) -> str:
    """Canonical lower-case Vietnamese with diacritics kept and teencode expanded."""
    text = _REPEATS.sub(r"\1", clean(text).lower())
    words = teencode()

    def expand(match: re.Match) -> str:
        word = match.group(0)
        return words.get(word) or words.get(fold_diacritics(word)) or _place_tone(word)

    return _WORD.sub(expand, text)


def normalize_folded(text: str) -> str:
    """`normalize` then `fold_diacritics`: what the classifier mostly sees."""
    return fold_diacritics(normalize(text))
