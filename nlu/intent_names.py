"""Short, human names of the intents (`nlu/data/intent_names.yml`), for
statistics that people read instead of raw intent ids."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

NAMES_FILE = Path(__file__).resolve().parent / "data" / "intent_names.yml"


@lru_cache(maxsize=1)
def _names() -> dict[str, dict[str, str]]:
    with NAMES_FILE.open(encoding="utf-8") as file:
        return yaml.safe_load(file) or {}


def intent_name(intent: str, lang: str = "vi") -> str:
    """The intent's name in `lang`; the id itself for an intent not named yet."""
    names = _names().get(intent) or {}
    return names.get(lang) or names.get("vi") or intent


def named_intents() -> set[str]:
    return set(_names())
