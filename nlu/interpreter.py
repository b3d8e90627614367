"""The NLU port the dialogue codes against: `await interpreter.parse(text)`
returns Rasa's /model/parse response shape, whichever engine answers."""

from __future__ import annotations

from abc import ABC, abstractmethod

FALLBACK_INTENT = "nlu_fallback"


class Interpreter(ABC):
    """Understands one message.

    `parse` returns {"text", "intent": {"name", "confidence"}, "entities":
    [{"entity", "value", "start", "end", "confidence_entity", "extractor"}],
    "intent_ranking": [{"name", "confidence"}, ...]}. When unsure, the intent
    is "nlu_fallback" and the ranking (after that entry) holds the candidates,
    so the dialogue can ask "did you mean A or B?". It never raises on any text.
    """

    @abstractmethod
    async def parse(self, text: str) -> dict: ...

    async def aclose(self) -> None:
        """Release resources (HTTP connections); nothing to do by default."""
