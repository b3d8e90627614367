"""A loopback fake of the Zalo Official Account Open API and its OAuth v4
server: one real HTTP server that answers like `openapi.zalo.me` and
`oauth.zaloapp.com`, records what the OA sent, rotates single-use refresh
tokens, and plays the user by posting signed events to the bot's webhook.

    async with ZaloOaApiFake(app_id, oa_secret_key, app_secret) as zalo:
        # point api_base_url and oauth_base_url at zalo.base_url
        zalo.webhook_url = f"{bot_url}/zalo/oa/webhook"
        await zalo.follow("user-1")
        await zalo.user_presses("user-1", "Lệ phí")

With `rate_limits` it enforces send limits on the message calls: past
them it answers as Zalo does, HTTP 200 with error -32 and no Retry-After
(the adapter then waits a second). Zalo's OA documentation gives no
per-second figure, so the fake enforces the bot's configured one,
`broadcast.rates.zalo_oa` (10/s, 1/s per chat).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels.zalo_oa import RATE_LIMITED, event_signature
from tests.fakes.flood_limits import FloodGate, RateLimits
from tests.fakes.zalo_bot_api import LoopbackServer

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_UPLOAD = 1_000_000


@dataclass
class OaMessage:
    path: str  # /v3.0/oa/message/cs or the paid path
    user_id: str
    text: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    attachment_id: str = ""
    at: float = field(default_factory=time.monotonic)  # when the fake accepted it

    @property
    def button_titles(self) -> list[str]:
        return [button["title"] for button in self.buttons]


class ZaloOaApiFake:
    def __init__(
        self,
        app_id: str,
        oa_secret_key: str,
        app_secret: str,
        oa_id: str = "388613280878808645",
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.app_id, self.oa_secret_key, self.app_secret, self.oa_id = app_id, oa_secret_key, app_secret, oa_id
        self._flood_gate = FloodGate(rate_limits) if rate_limits else None
        self.rate_limited = 0  # message calls answered with the rate-limit error
        self.webhook_url = ""
        self.access_tokens: set[str] = set()  # currently valid
        self.refresh_token = ""  # the one valid refresh token
        self.spent_refresh_tokens: list[str] = []
        self.refresh_calls = 0
        self.api_calls: list[tuple[str, str]] = []  # (path, access token used)
        self.sent: list[OaMessage] = []
        self.uploads: dict[str, bytes] = {}
        self.upload_types: dict[str, str] = {}
        self.expires_in = 90000
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        routes = [
            Route("/v4/oa/access_token", self._access_token, methods=["POST"]),
            Route("/v2.0/oa/upload/image", self._upload_image, methods=["POST"]),
            Route("/v3.0/oa/message/{kind}", self._message, methods=["POST"]),
        ]
        self._server = LoopbackServer(Starlette(routes=routes))
        self._client = httpx.AsyncClient(timeout=10)
        self.base_url = ""

    async def __aenter__(self) -> ZaloOaApiFake:
        self.base_url = await self._server.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.aclose()
        await self._server.stop()

    def issue_tokens(self) -> tuple[str, str]:
        """A fresh pair, as if an officer authorised the OA just now."""
        access, refresh = f"access-{secrets.token_hex(8)}", f"refresh-{secrets.token_hex(8)}"
        self.access_tokens = {access}
        self.refresh_token = refresh
        return access, refresh

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    # --- playing the user -------------------------------------------------------
    def event(self, name: str, user_id: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "app_id": self.app_id,
            "user_id_by_app": f"app-{user_id}",
            "event_name": name,
            "timestamp": str(int(time.time() * 1000)),
        }
        if name in ("follow", "unfollow"):
            body.update(oa_id=self.oa_id, follower={"id": user_id}, source="oa_profile")
        else:
            body.update(sender={"id": user_id}, recipient={"id": self.oa_id})
        body.update(extra)
        return body

    async def post_event(self, body: dict[str, Any], signature: str | None = None) -> int:
        """POST an event to the webhook, signed like Zalo unless `signature`
        says otherwise ("" sends none). Returns the HTTP status."""
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if signature is None:
            signature = event_signature(self.app_id, raw, str(body.get("timestamp", "")), self.oa_secret_key)
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["X-ZEvent-Signature"] = signature
        response = await self._client.post(self.webhook_url, content=raw, headers=headers)
        return response.status_code

    async def user_says(self, user_id: str, text: str, msg_id: str | None = None) -> int:
        message = {"text": text, "msg_id": msg_id or f"msg{next(self._ids):06d}"}
        return await self.post_event(self.event("user_send_text", user_id, message=message))

    async def user_presses(self, user_id: str, title: str) -> int:
        """Press a button of the newest button template sent to the user: Zalo
        sends its payload back as the user's (hidden) text."""
        for message in reversed(self.messages_to(user_id)):
            for button in message.buttons:
                if button["title"] == title:
                    return await self.user_says(user_id, button["payload"])
        raise AssertionError(f"no button {title!r} was shown to {user_id}")

    async def follow(self, user_id: str) -> int:
        return await self.post_event(self.event("follow", user_id))

    async def unfollow(self, user_id: str) -> int:
        return await self.post_event(self.event("unfollow", user_id))

    def messages_to(self, user_id: str) -> list[OaMessage]:
        return [message for message in self.sent if message.user_id == user_id]

    async def wait_for_messages(self, user_id: str, count: int, timeout: float = 5.0) -> list[OaMessage]:
        if not await self.wait_until(lambda: len(self.messages_to(user_id)) >= count, timeout):
            raise TimeoutError(f"{user_id} got {len(self.messages_to(user_id))} of {count} messages")
        return self.messages_to(user_id)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds after a message is sent; False on timeout."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                return False
        return True

    # --- OAuth v4 -----------------------------------------------------------------
    async def _access_token(self, request: Request) -> JSONResponse:
        self.refresh_calls += 1
        form = await request.form()
        if request.headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
            return JSONResponse({"error": -14002, "error_name": "Invalid app", "error_description": "app id or secret"})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return JSONResponse(
                {"error": -14014, "error_name": "Invalid refresh token", "error_description": "used or unknown"}
            )
        self.spent_refresh_tokens.append(self.refresh_token)
        access, refresh = self.issue_tokens()
        return JSONResponse({"access_token": access, "refresh_token": refresh, "expires_in": str(self.expires_in)})

    # --- Open API -----------------------------------------------------------------
    def _authorised(self, request: Request) -> bool:
        token = request.headers.get("access_token", "")
        self.api_calls.append((request.url.path, token))
        return token in self.access_tokens

    @staticmethod
    def _error(code: int, message: str) -> JSONResponse:
        return JSONResponse({"error": code, "message": message})

    async def _upload_image(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return self._error(-216, "Access token is invalid")
        form = await request.form()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            return self._error(-201, "file is required")
        content = await upload.read()
        if len(content) > MAX_UPLOAD:
            return self._error(-210, "file size exceeds 1MB")
        if upload.content_type not in ("image/png", "image/jpeg"):
            return self._error(-201, "only jpg and png are accepted")
        attachment_id = f"att{next(self._ids):06d}"
        self.uploads[attachment_id], self.upload_types[attachment_id] = content, upload.content_type
        return JSONResponse({"error": 0, "message": "Success", "data": {"attachment_id": attachment_id}})

    async def _message(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return self._error(-216, "Access token is invalid")
        body = await request.json()
        user_id = (body.get("recipient") or {}).get("user_id")
        message = body.get("message") or {}
        text = message.get("text", "")
        payload = (message.get("attachment") or {}).get("payload") or {}
        buttons = payload.get("buttons") or []
        elements = payload.get("elements") or []
        if not user_id or len(text) > MAX_TEXT or len(buttons) > MAX_BUTTONS or not (text or elements):
            return self._error(-201, "invalid parameters")
        if any(button.get("type") not in ("oa.query.show", "oa.query.hide", "oa.open.url") for button in buttons):
            return self._error(-201, "invalid button type")
        attachment_id = elements[0].get("attachment_id", "") if elements else ""
        if attachment_id and attachment_id not in self.uploads:
            return self._error(-201, "unknown attachment")
        if self._flood_gate is not None and self._flood_gate.admit(user_id, time.monotonic()) is not None:
            self.rate_limited += 1
            return self._error(RATE_LIMITED, "Request limit exceeded")
        async with self._changed:
            self.sent.append(OaMessage(request.url.path, user_id, text, buttons, attachment_id))
            self._changed.notify_all()
        return JSONResponse(
            {"error": 0, "message": "Success", "data": {"message_id": f"sent{next(self._ids)}", "user_id": user_id}}
        )
