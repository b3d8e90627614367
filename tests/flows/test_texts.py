"""Every interface text exists in Vietnamese and English."""

from __future__ import annotations

import re
import string
from pathlib import Path

from flows.texts import LANGUAGES, load_texts

FLOW_SOURCES = [
    *Path(__file__).resolve().parents[2].joinpath("flows").glob("*.py"),
    Path(__file__).resolve().parents[2] / "bot" / "dispatcher.py",
]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_key_has_both_languages_with_the_same_placeholders():
    texts = load_texts()
    for key, entry in texts.entries.items():
        for lang in LANGUAGES:
            assert entry.get(lang, "").strip(), f"{key} has no {lang} text"
        assert placeholders(entry["vi"]) == placeholders(entry["en"]), key


def test_every_text_key_the_code_uses_exists():
    texts = load_texts()
    used = set()
    for path in FLOW_SOURCES:
        used |= set(re.findall(r"""(?:\.t|button)\(\s*["']([a-z_]+\.[a-z_0-9]+)["']""", path.read_text()))
    missing = sorted(key for key in used if key not in texts.entries)
    assert not missing, missing
