"""Which language a message is written in, when it is clear: Vietnamese
unless the words are plainly English. A citizen who opens with a question
gets the answer in the language they wrote in, before any language picker."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from core.textkey import fold_diacritics

WORDS_FILE = Path(__file__).resolve().parent / "data" / "language_words.yml"
_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=1)
def _words() -> dict[str, frozenset[str]]:
    raw = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8"))
    return {lang: frozenset(str(word) for word in raw[lang]) for lang in ("en", "vi")}


def guess_language(text: str, default: str = "vi") -> str:
    """`"en"` when the text is clearly English, "vi" when it is clearly
    Vietnamese, else `default` (a code or a word of neither)."""
    if fold_diacritics(text) != text:
        return "vi"  # Vietnamese diacritics
    words = _WORD.findall(text.lower())
    known = _words()
    english = sum(word in known["en"] for word in words)
    vietnamese = sum(word in known["vi"] for word in words)
    if english == vietnamese:
        return default
    return "en" if english > vietnamese else "vi"
