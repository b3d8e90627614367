"""A loopback chat platform for delivery tests and demos: a real HTTP server
that records what each chat received and can be scripted to answer like a
platform under load (429 with retry_after, 403 for a user who blocked the
bot, 5xx), plus `LoopbackChannel`, a `Channel` adapter that talks to it over
HTTP, so a delivery worker in another process can use it too.

    async with LoopbackPlatform() as platform:
        channel = LoopbackChannel(platform.url)
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels.base import Channel, DeliveryError, RateLimited, TransientError, UserUnreachable
from core.messages import Capabilities, Reply
from tests.fakes.telegram_api import _start_server, _stop_server


@dataclass
class _Failure:
    status: int
    times: int
    chat_id: str | None
    retry_after: float


class LoopbackPlatform:
    """The platform's side. `received[chat_id]` lists the texts delivered."""

    def __init__(self) -> None:
        self.received: dict[str, list[str]] = defaultdict(list)
        self.images: Counter[str] = Counter()  # chat -> photos received
        self.blocked: set[str] = set()
        self.answers: Counter[int] = Counter()  # HTTP status -> count
        self.log: list[tuple[float, str, int]] = []  # (monotonic time, chat, HTTP status) per send
        self._failures: list[_Failure] = []
        self._server = self._task = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LoopbackPlatform:
        app = Starlette(routes=[Route("/send", self._send, methods=["POST"])])
        self._server, self._task, self.port = await _start_server(app)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await _stop_server(self._server, self._task)

    def fail(self, status: int, *, times: int = 1, chat_id: str | None = None, retry_after: float = 1) -> None:
        """Answer the next `times` sends (to `chat_id`, or any) with `status`."""
        self._failures.append(_Failure(status, times, chat_id, retry_after))

    def block(self, chat_id: str) -> None:
        self.blocked.add(chat_id)

    @property
    def delivered(self) -> int:
        return sum(len(texts) for texts in self.received.values())

    async def _send(self, request: Request) -> JSONResponse:
        body = await request.json()
        chat = str(body["chat_id"])
        status, extra = 200, {}
        if chat in self.blocked:
            status = 403
        for failure in self._failures:
            if status == 200 and failure.times > 0 and failure.chat_id in (None, chat):
                failure.times -= 1
                status, extra = failure.status, {"retry_after": failure.retry_after}
        self.answers[status] += 1
        self.log.append((time.monotonic(), chat, status))
        if status != 200:
            return JSONResponse({"ok": False, **extra}, status_code=status)
        for message in body["messages"]:
            self.received[chat].append(message["text"])
            if message.get("image"):
                self.images[chat] += 1
        return JSONResponse({"ok": True})


class LoopbackChannel(Channel):
    """A `Channel` for `LoopbackPlatform`, raising the port's delivery errors."""

    capabilities = Capabilities(buttons=True, max_text_length=4096, image_by="upload")

    def __init__(self, base_url: str, name: str = "telegram") -> None:
        self.name = name
        self.base_url = base_url
        self._client = httpx.AsyncClient(timeout=5)

    async def stop(self) -> None:
        await self._client.aclose()

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        messages = [
            {"text": reply.text, "image": reply.image is not None, "link": reply.link.url if reply.link else None}
            for reply in replies
        ]
        try:
            response = await self._client.post(f"{self.base_url}/send", json={"chat_id": chat_id, "messages": messages})
        except httpx.HTTPError as error:
            raise TransientError(type(error).__name__) from error
        if response.status_code == 429:
            raise RateLimited(float(response.json().get("retry_after", 1)))
        if response.status_code == 403:
            raise UserUnreachable("blocked")
        if response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise DeliveryError(f"HTTP {response.status_code}")
