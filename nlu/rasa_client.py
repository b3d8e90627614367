"""The optional backend `nlu.backend: rasa`: a running Rasa server's
`POST /model/parse`, behind the same `Interpreter` port.

If the server cannot be reached or answers nonsense, the citizen still gets
an answer: an `nlu_fallback` result with our own entity extraction, so the
dialogue asks again instead of failing.
"""

from __future__ import annotations

import logging

import httpx

from nlu.entities import extract
from nlu.interpreter import FALLBACK_INTENT, Interpreter

log = logging.getLogger(__name__)


def _valid(answer) -> bool:
    return (
        isinstance(answer, dict)
        and isinstance(answer.get("intent"), dict)
        and "name" in answer["intent"]
        and isinstance(answer.get("entities", []), list)
    )


class RasaHttpInterpreter(Interpreter):
    """Client of Rasa's HTTP API (`/model/parse`)."""

    def __init__(
        self, base_url: str, timeout: float = 3.0, token: str | None = None, client: httpx.AsyncClient | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.params = {"token": token} if token else {}
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def parse(self, text: str) -> dict:
        text = text if isinstance(text, str) else ""
        try:
            response = await self._client.post(f"{self.base_url}/model/parse", json={"text": text}, params=self.params)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            log.warning("Rasa server unavailable (%s): answering nlu_fallback", type(error).__name__)
            return self._unavailable(text)
        if not _valid(answer):
            log.warning("Rasa server answered an unexpected shape: answering nlu_fallback")
            return self._unavailable(text)
        answer.setdefault("text", text)
        answer.setdefault("entities", [])
        answer.setdefault("intent_ranking", [dict(answer["intent"])])
        return answer

    @staticmethod
    def _unavailable(text: str) -> dict:
        return {
            "text": text,
            "intent": {"name": FALLBACK_INTENT, "confidence": 0.0},
            "entities": extract(text[:2000]),
            "intent_ranking": [],
        }

    async def aclose(self) -> None:
        await self._client.aclose()
