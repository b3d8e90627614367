"""Vietnamese text normalisation, so that "Lệ phí bao nhiêu?", "le phi bao nhieu"
and "lp bn vậyyy" meet the same features.

`normalize` keeps diacritics (NFC, one tone-mark placement, lower case,
repeated letters squeezed, teencode expanded); `core.textkey.fold_diacritics`
removes them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

from core.textkey import clean, fold_diacritics

DATA_DIR = Path(__file__).resolve().parent / "data"
TEENCODE_FILE = DATA_DIR / "teencode.yml"

_TONE_MARKS = {"\u0300", "\u0301", "\u0309", "\u0303", "\u0323"}  # huyền, sắc, hỏi, ngã, nặng
_WORD = re.compile(r"\w+", re.UNICODE)
# An age typed short: "15t", "8t". In questions about this certificate a number
# with "t" is an age (a child's, a parent's); amounts are written "200k" or "200 nghìn".
_SHORT_AGE = re.compile(r"^(\d{1,3})t$")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}", re.UNICODE)  # letters only: keep "000.00.79"
# Syllables where old and new orthography put the tone on different vowels:
# oa, oe, uy closing the syllable (hoà/hòa, khoẻ/khỏe, thuỷ/thủy). "qu" + y is
# not one of them: there u belongs to the consonant (quý).
_OLD_NEW_RIMES = re.compile(r"^(.*?)(?<!q)([ou])([aey])$")


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


def normalize(text: str) -> str:
    """Canonical lower-case Vietnamese with diacritics kept and teencode expanded."""
    text = _REPEATS.sub(r"\1", clean(text).lower())
    words = teencode()

    def expand(match: re.Match) -> str:
        word = match.group(0)
        if age := _SHORT_AGE.match(word):
            return f"{age.group(1)} tuổi"
        return words.get(word) or words.get(fold_diacritics(word)) or _place_tone(word)

    return _WORD.sub(expand, text)


def normalize_folded(text: str) -> str:
    """`normalize` then `fold_diacritics`: what the classifier mostly sees."""
    return fold_diacritics(normalize(text))
