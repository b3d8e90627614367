"""Text keys: the one way typed words are compared across the project.

`fold_diacritics` maps one NFC character to one character, so offsets found in
folded text are offsets in the NFC text too; `text_key` is the comparable form
of a phrase ("TP. Hồ Chí Minh!" -> "tp ho chi minh").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def fold_diacritics(text: str) -> str:
    """Text without Vietnamese diacritics (đ -> d), same length as its NFC form."""
    return "".join(_fold_char(char) for char in unicodedata.normalize("NFC", text))


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d" if char == "đ" else "D"
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isascii() or not base.isalpha() else char


def nfc(text: str) -> str:
    """NFC with control characters turned into spaces: offsets into this text
    are the offsets the entity extractors report."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text or ""))


def clean(text: str) -> str:
    """NFC, control characters dropped, whitespace collapsed; case kept."""
    return _SPACES.sub(" ", nfc(text)).strip()


@lru_cache(maxsize=16_384)  # the knowledge base's phrases are keyed again at every lookup
def text_key(text: str) -> str:
    """Lower-case, folded, punctuation-free words joined by single spaces."""
    return " ".join(_TOKEN.findall(fold_diacritics(clean(text)).lower()))


def longest_mention(text: str, phrases: Iterable[object] | None) -> str:
    """The longest of `phrases` ("sinh vien") that `text` contains as whole
    words, compared without case, punctuation or diacritics; "" if none."""
    key = f" {text_key(text)} "
    found = [phrase for phrase in map(text_key, map(str, phrases or ())) if phrase and f" {phrase} " in key]
    return max(found, key=len, default="")
