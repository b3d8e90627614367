"""What the web chat keeps of a conversation for a reload (issue 19): the
bot's rendered replies, and the citizen's side as the page showed it.

Privacy: the citizen's typed words are kept only after consent, with every
digit masked (the privacy notice promises no id numbers or dates of birth
are kept), and a pressed button as the title the page showed (`echo`).
Each turn's entries carry the page's message id (`key`), so a retried
request is answered from here instead of being processed twice.
"""

from __future__ import annotations

import re
from typing import Any

from core.messages import Inbound, InboundKind

KEEP = 50
_DIGIT = re.compile(r"\d")


def citizen_entry(inbound: Inbound, consented: bool, echo: str | None) -> dict[str, Any] | None:
    """The citizen's message as the page showed it (`echo`: a pressed
    button's title), or None when it showed nothing."""
    if inbound.kind is InboundKind.TEXT:
        if not consented:
            return {"from": "me", "text": None}
        return {"from": "me", "text": _DIGIT.sub("•", inbound.text), "typed": True}
    if inbound.kind is InboundKind.BUTTON and echo:
        return {"from": "me", "text": echo if consented else None}
    return None


def has_typed_words(history: list[dict[str, Any]]) -> bool:
    """Whether the history holds words the citizen typed (kept under consent)."""
    return any(entry.get("typed") for entry in history)


def answered(history: list[dict[str, Any]], key: str) -> list[dict[str, Any]] | None:
    """The bot's replies to the message with `key`, if it was processed."""
    if not any(entry.get("key") == key for entry in history):
        return None
    return [
        {name: value for name, value in entry.items() if name != "key"}
        for entry in history
        if entry.get("key") == key and entry.get("from") == "bot"
    ]


def page_view(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries the page shows (a citizen's text kept before consent is not)."""
    return [entry for entry in history if entry.get("from") == "bot" or entry.get("text")]
