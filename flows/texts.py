"""The words the bot says, in Vietnamese and English, from `texts.yml`.

Prompts, button titles and other interface wording live here; facts with
sources (fees, time limits, authorities) live in the knowledge base. Every
key has both languages (`tests/flows/test_texts.py` checks it), so a flow
can never fall back to a half-translated screen.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

TEXTS_FILE = Path(__file__).parent / "texts.yml"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


class Texts:
    def __init__(self, entries: dict[str, dict[str, str]]) -> None:
        self.entries = entries

    def get(self, key: str, lang: str, **values: object) -> str:
        """The text for `key` in `lang`, with `{placeholders}` filled in."""
        try:
            entry = self.entries[key]
        except KeyError:
            raise KeyError(f"no text {key!r} in texts.yml") from None
        text = entry.get(lang) or entry[DEFAULT_LANGUAGE]
        return text.format(**values) if values else text

    def keys(self) -> list[str]:
        return list(self.entries)

    def intent_name(self, intent: str, lang: str = DEFAULT_LANGUAGE) -> str:
        """A person's name for an intent (`intent.<id>`), the id itself when it has none."""
        return self.get(f"intent.{intent}", lang) if f"intent.{intent}" in self.entries else intent


def load_texts(path: Path = TEXTS_FILE) -> Texts:
    return Texts(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def texts() -> Texts:
    return load_texts()


def language_of(hint: str | None) -> str:
    """'en-US' -> 'en'; anything we do not speak -> Vietnamese."""
    short = (hint or "").split("-")[0].split("_")[0].lower()
    return short if short in LANGUAGES else DEFAULT_LANGUAGE
