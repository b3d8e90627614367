"""A loopback fake of the Zalo Bot Platform API, in the spirit of opsdroid's
`ExternalAPIMockServer`: a real HTTP server that answers like
`bot-api.zaloplatforms.com`, records what the bot sent, and plays the user.

    async with ZaloBotApiFake(token) as zalo:          # serves on 127.0.0.1:<random>
        channel = ZaloBotChannel(token, settings, media, base_url=zalo.base_url)
        await zalo.user_says("user-1", "xin chào")      # by getUpdates or webhook
        messages = await zalo.wait_for_messages("user-1", 1)

With `rate_limits` it enforces flood limits on sendMessage/sendPhoto:
HTTP 429 with `Retry-After` (Zalo publishes no numbers; the bot's default,
`broadcast.rates.zalo_bot`, is 10/s and 1/s per chat).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.flood_limits import FloodGate, RateLimits


class LoopbackServer:
    """Serves an ASGI app on 127.0.0.1 at a free port, in the running loop."""

    def __init__(self, app: Any) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self._task: asyncio.Task | None = None
        self.base_url = ""

    async def start(self) -> str:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task:
            await self._task


@dataclass
class SentMessage:
    method: str
    chat_id: str
    text: str = ""
    photo: str = ""
    photo_status: int | None = None  # what fetching the photo URL answered
    photo_bytes: bytes = b""
    at: float = field(default_factory=time.monotonic)  # when the fake accepted it


@dataclass
class _State:
    updates: asyncio.Queue = field(default_factory=asyncio.Queue)
    sent: list[SentMessage] = field(default_factory=list)
    chat_actions: list[tuple[str, str]] = field(default_factory=list)
    webhook_url: str = ""
    webhook_secret: str = ""
    scripted_errors: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)


class ZaloBotApiFake:
    MAX_TEXT = 2000

    def __init__(self, token: str, poll_wait_cap: float = 0.2, rate_limits: RateLimits | None = None) -> None:
        self.token = token
        self._flood_gate = FloodGate(rate_limits) if rate_limits else None
        self.rate_limited = 0  # sends answered 429
        self.poll_wait_cap = poll_wait_cap  # long polls end quickly in tests
        self.state = _State()
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._server = LoopbackServer(
            Starlette(routes=[Route("/bot{token}/{method}", self._method, methods=["POST", "GET"])])
        )
        self._client = httpx.AsyncClient(timeout=10)
        self.base_url = ""

    async def __aenter__(self) -> ZaloBotApiFake:
        self.base_url = await self._server.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.aclose()
        await self._server.stop()

    # --- playing the user -----------------------------------------------------
    def text_update(self, user_id: str, text: str, message_id: str | None = None) -> dict[str, Any]:
        return self.update(user_id, "message.text.received", {"text": text}, message_id)

    def update(
        self, user_id: str, event: str, content: dict[str, Any], message_id: str | None = None
    ) -> dict[str, Any]:
        message = {
            "from": {"id": user_id, "display_name": "Người dùng", "is_bot": False},
            "chat": {"id": user_id, "chat_type": "PRIVATE"},
            "message_id": message_id or f"m{next(self._ids):08x}",
            "date": int(time.time() * 1000),
            **content,
        }
        return {"event_name": event, "message": message}

    async def user_says(self, user_id: str, text: str, message_id: str | None = None) -> dict[str, Any]:
        update = self.text_update(user_id, text, message_id)
        await self.deliver(update)
        return update

    async def deliver(self, update: dict[str, Any], secret: str | None = None) -> int:
        """Deliver an update the way Zalo would: POST to the webhook if one is
        set (with its secret, or `secret` to impersonate), else queue it for
        getUpdates. Returns the webhook's HTTP status (200 when queued)."""
        if not self.state.webhook_url:
            await self.state.updates.put(update)
            return 200
        headers = {"X-Bot-Api-Secret-Token": self.state.webhook_secret if secret is None else secret}
        if secret == "":
            headers = {}
        response = await self._client.post(self.state.webhook_url, json={"ok": True, "result": update}, headers=headers)
        return response.status_code

    def fail_next(self, method: str, error_code: int, description: str, http_status: int = 200) -> None:
        self.state.scripted_errors.setdefault(method, []).append((http_status, error_code, description))

    def messages_to(self, chat_id: str) -> list[SentMessage]:
        return [message for message in self.state.sent if message.chat_id == chat_id]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds after a message arrives; False on timeout."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout=timeout)
            except TimeoutError:
                return False
        return True

    async def wait_for_messages(self, chat_id: str, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until `chat_id` has received at least `count` messages in all."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.messages_to(chat_id)) >= count), timeout=timeout
            )
        return self.messages_to(chat_id)

    # --- the API --------------------------------------------------------------
    async def _method(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        method = request.path_params["method"]
        raw = await request.body()
        params = json.loads(raw) if raw else {}
        if self._flood_gate is not None and method in ("sendMessage", "sendPhoto"):
            wait = self._flood_gate.admit(str(params.get("chat_id", "")), time.monotonic())
            if wait is not None:
                self.rate_limited += 1
                body = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
                return JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})
        if scripted := self.state.scripted_errors.get(method):
            status, code, description = scripted.pop(0)
            return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=status)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)
        return await handler(params)

    @staticmethod
    def _ok(result: Any = None) -> JSONResponse:
        return JSONResponse({"ok": True, "result": result} if result is not None else {"ok": True})

    @staticmethod
    def _bad(description: str) -> JSONResponse:
        return JSONResponse({"ok": False, "error_code": 400, "description": description}, status_code=400)

    async def _api_getMe(self, params: dict) -> JSONResponse:
        return self._ok({"id": "1459232241454765289", "account_name": "bot.Troly", "account_type": "BASIC"})

    async def _api_setWebhook(self, params: dict) -> JSONResponse:
        secret = str(params.get("secret_token", ""))
        if not params.get("url") or not 8 <= len(secret) <= 256:
            return self._bad("url and an 8-256 character secret_token are required")
        self.state.webhook_url, self.state.webhook_secret = params["url"], secret
        return self._ok({"url": params["url"], "updated_at": int(time.time() * 1000)})

    async def _api_deleteWebhook(self, params: dict) -> JSONResponse:
        self.state.webhook_url = self.state.webhook_secret = ""
        return self._ok({"url": "", "updated_at": int(time.time() * 1000)})

    async def _api_getUpdates(self, params: dict) -> JSONResponse:
        if self.state.webhook_url:
            return self._bad("getUpdates is not available while a webhook is set")
        wait = min(float(params.get("timeout", 30)), self.poll_wait_cap)
        try:
            update = await asyncio.wait_for(self.state.updates.get(), timeout=wait)
        except TimeoutError:
            return JSONResponse({"ok": False, "error_code": 408, "description": "Request timeout"})
        return self._ok(update)

    async def _api_sendMessage(self, params: dict) -> JSONResponse:
        text = params.get("text")
        if not params.get("chat_id") or not isinstance(text, str) or not 1 <= len(text) <= self.MAX_TEXT:
            return self._bad("chat_id and a text of 1-2000 characters are required")
        await self._record(SentMessage("sendMessage", str(params["chat_id"]), text=text))
        return self._ok({"message_id": f"s{next(self._ids):08x}", "date": int(time.time() * 1000)})

    async def _api_sendPhoto(self, params: dict) -> JSONResponse:
        caption = params.get("caption") or ""
        if not params.get("chat_id") or not params.get("photo") or len(caption) > self.MAX_TEXT:
            return self._bad("chat_id and photo are required; caption at most 2000 characters")
        # Like Zalo, fetch the picture from its URL.
        try:
            fetched = await self._client.get(params["photo"])
            status, content = fetched.status_code, fetched.content
        except httpx.HTTPError:
            status, content = None, b""
        await self._record(
            SentMessage(
                "sendPhoto",
                str(params["chat_id"]),
                text=caption,
                photo=params["photo"],
                photo_status=status,
                photo_bytes=content,
            )
        )
        return self._ok({"message_id": f"s{next(self._ids):08x}", "date": int(time.time() * 1000)})

    async def _api_sendChatAction(self, params: dict) -> JSONResponse:
        if params.get("action") not in ("typing", "upload_photo"):
            return self._bad("unknown action")
        self.state.chat_actions.append((str(params.get("chat_id")), params["action"]))
        return self._ok()

    async def _record(self, message: SentMessage) -> None:
        async with self._changed:
            self.state.sent.append(message)
            self._changed.notify_all()
