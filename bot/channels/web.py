"""The web chat: a mobile-first, Telegram-like page served by our own app,
working offline (no CDN: the page, its style and script are one file), and
the JSON API it talks to, usable as an embeddable widget:

    POST /api/chat  {"user_id": "...", "text": "..."}
                    {"user_id": "...", "button": "<payload>"}
                    {"user_id": "...", "start": "<deep-link payload>"}
    -> {"replies": [{"text", "buttons": [{"title", "payload"}], "rows": [[...]],
                     "image_url", "image_alt", "link": {"title", "url"}, "edit_key"}]}
    GET  /api/chat/updates?user_id=...  -> {"replies": [...]}  (notifications)
    GET  /openapi.json  the OpenAPI description of these routes

A reply's `edit_key` names the message it replaces on the page: the server
reuses the newest message's key only while that message is still the newest
on the page, else gives a fresh one, so an edit never lands far up the
history (`web_screen`).

Bad requests get a 4xx with a bilingual message, never a 500; when the
dispatcher fails, a 503 carries the same apology the other channels send.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.channels import ChannelContext
from bot.channels.base import Channel, Handler
from bot.channels.http_body import BadJson, BodyTooLarge, loads_limited, read_body
from bot.channels.receive import apology_in
from bot.channels.web_openapi import openapi_description
from bot.channels.web_screen import Screens
from core.messages import Capabilities, Inbound, InboundKind, Reply
from storage.base import Storage

log = logging.getLogger(__name__)

PAGE_FILE = Path(__file__).with_name("web_page.html")
MAX_BODY = 32 * 1024
MAX_TEXT = 10_000  # the dispatcher politely refuses anything over its own limit
MAX_PAYLOAD = 200
PENDING_PER_USER = 50  # notices kept for a page that is not open (the newest)
_USER_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def _refuse(status: int, vietnamese: str, english: str) -> JSONResponse:
    return JSONResponse({"error": english, "message_vi": vietnamese, "message_en": english}, status_code=status)


class WebChannel(Channel):
    name = "web"
    capabilities = Capabilities(buttons=True, max_text_length=4000, image_by="url", edit_messages=True)

    def __init__(self, storage: Storage, media: Any = None) -> None:
        self.media = media
        # Notifications wait in storage until the page polls for them: they
        # survive a restart, and any worker can hand them over.
        self.storage = storage
        self._handle: Handler | None = None
        self._page = PAGE_FILE.read_text(encoding="utf-8")
        self._screens = Screens()

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/api/chat", self.chat, methods=["POST"]),
            Route("/api/chat/updates", self.updates, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]

    async def start(self, handle: Handler) -> None:
        self._handle = handle

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        notices = [self.render(reply, self._screens.place(chat_id, reply)) for reply in replies]
        await self.storage.queue_notices(self.name, chat_id, notices, PENDING_PER_USER)

    # --- HTTP -------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        return HTMLResponse(
            self._page,
            headers={
                "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; "
                "script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
                "X-Frame-Options": "DENY",  # no framing by another site (clickjacking), for older browsers too
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_description(MAX_TEXT, MAX_PAYLOAD))

    async def chat(self, request: Request) -> Response:
        try:
            data = loads_limited(await read_body(request, MAX_BODY))
        except BodyTooLarge:
            return _refuse(413, "Tin nhắn quá dài.", "Message too large.")
        except BadJson:
            return _refuse(400, "Dữ liệu không phải JSON hợp lệ.", "The body is not JSON, or nests too deep.")
        if not isinstance(data, dict):
            return _refuse(400, "Dữ liệu không đúng dạng.", "Expected a JSON object.")
        inbound = self._inbound(data)
        if isinstance(inbound, JSONResponse):
            return inbound
        if self._handle is None:
            return _refuse(503, "Trợ lý đang khởi động, bạn thử lại sau giây lát.", "Starting up, try again shortly.")
        self._screens.received(inbound)
        try:
            replies = await self._handle(inbound)
        except Exception:  # the page may try again: the turn was not recorded
            log.exception("web: the dispatcher failed")
            return _refuse(503, apology_in("vi"), apology_in("en"))
        rendered = [self.render(reply, self._screens.place(inbound.chat_id, reply)) for reply in replies]
        return JSONResponse({"replies": rendered})

    def _inbound(self, data: dict) -> Inbound | JSONResponse:
        user_id = data.get("user_id")
        if not isinstance(user_id, str) or not _USER_ID.match(user_id):
            return _refuse(400, "Thiếu hoặc sai user_id.", "user_id is missing or not valid (1-64 of A-Z a-z 0-9 _ -).")
        message_id = data.get("message_id")
        if message_id is not None and (not isinstance(message_id, str) or not _MESSAGE_ID.match(message_id)):
            return _refuse(400, "message_id không hợp lệ.", "message_id is not valid.")
        common: dict[str, Any] = {
            "channel": self.name,
            "user_id": user_id,
            "chat_id": user_id,
            "update_id": _update_key(user_id, message_id) if message_id else None,
            "locale": _locale(data.get("locale")),
        }
        kinds = [key for key in ("text", "button", "start") if key in data]
        if len(kinds) != 1:
            return _refuse(400, "Gửi đúng một trong: text, button, start.", "Send exactly one of: text, button, start.")
        value = data[kinds[0]]
        if not isinstance(value, str):
            return _refuse(400, "Nội dung phải là chuỗi.", f"{kinds[0]} must be a string.")
        if kinds[0] == "text":
            if len(value) > MAX_TEXT:
                return _refuse(413, "Tin nhắn quá dài.", f"text is longer than {MAX_TEXT} characters.")
            return Inbound(kind=InboundKind.TEXT, text=value, **common)
        if len(value) > MAX_PAYLOAD:
            return _refuse(400, "Nút không hợp lệ.", "The payload is too long.")
        kind = InboundKind.BUTTON if kinds[0] == "button" else InboundKind.START
        return Inbound(kind=kind, payload=value, **common)

    async def updates(self, request: Request) -> Response:
        user_id = request.query_params.get("user_id", "")
        if not _USER_ID.match(user_id):
            return _refuse(400, "Thiếu hoặc sai user_id.", "user_id is missing or not valid.")
        return JSONResponse({"replies": await self.storage.take_notices(self.name, user_id)})

    # --- rendering ----------------------------------------------------------------
    def render(self, reply: Reply, page_key: str | None = None) -> dict:
        """A reply as the page's JSON; `page_key`: the message it replaces or starts (see `web_screen`)."""
        rows = [[{"title": b.title, "payload": b.payload} for b in row] for row in reply.buttons]
        rendered: dict[str, Any] = {
            "text": reply.text,
            "buttons": [button for row in rows for button in row],
            "rows": rows,
            "image_url": None,
            "image_alt": None,
            "link": {"title": reply.link.title, "url": reply.link.url} if reply.link else None,
            "edit_key": page_key,
        }
        if reply.image is not None:
            rendered["image_url"] = self.image_url(reply)
            rendered["image_alt"] = reply.image.alt
        return rendered

    def image_url(self, reply: Reply) -> str:
        """A same-origin path to the picture, so the page works on any address."""
        url = self.media.url_for(reply.image)
        base = self.media.public_base_url
        return url[len(base) :] if url.startswith(base) else url


def _update_key(user_id: str, message_id: str) -> str:
    """What the dispatcher records (in `seen_updates`, for two days, even
    after forget-me) to answer a message once: a hash of the user and the
    page's message id, which embeds most of the user id."""
    return hashlib.sha256(f"{user_id}\n{message_id}".encode()).hexdigest()[:40]


def _locale(value: Any) -> str | None:
    return value[:16] if isinstance(value, str) else None


def from_settings(context: ChannelContext) -> WebChannel:
    """The web chat is always on: it is the offline demo."""
    return WebChannel(context.storage, context.media)
