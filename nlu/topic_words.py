"""Words that name an intent's topic (data: nlu/data/topic_words.yml), for
confirming an unsure guess by what the question says."""

from __future__ import annotations

from functools import lru_cache

import yaml

from core.textkey import longest_mention
from nlu.normalize import DATA_DIR, normalize_folded

TOPIC_WORDS_FILE = DATA_DIR / "topic_words.yml"


@lru_cache(maxsize=1)
def topic_words() -> dict[str, tuple[str, ...]]:
    raw = yaml.safe_load(TOPIC_WORDS_FILE.read_text(encoding="utf-8")) or {}
    return {str(intent): tuple(map(str, words or ())) for intent, words in (raw.get("topic_words") or {}).items()}


def names_topic(intent: str, text: str) -> bool:
    """Whether the question contains one of the words of `intent`'s topic."""
    words = topic_words().get(intent)
    return bool(words) and bool(longest_mention(normalize_folded(text), words))
