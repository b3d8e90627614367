"""The web chat: a mobile-first, Telegram-like page served by our own app,
working offline (no CDN: the page, its style and script are our own files,
icons inline SVG), and the JSON API it talks to, usable as a widget:

    POST /api/chat  {"text": "..."} | {"button": "<payload>"} | {"start": "<deep-link payload>"}
                    with an optional "message_id" (idempotency key), "locale", and "echo"
                    (a pressed button's title as the page showed it, for the history)
    -> {"replies": [{"id", "from", "lang", "kind", "text", "buttons": [{"title", "payload"}],
                     "rows": [[...]], "image_url", "image_alt", "link": {"title", "url"}, "edit_key"}]}
    GET  /api/chat/updates  -> {"replies": [...]}  (notifications)
    GET  /api/chat/history  -> {"replies": [...]}  (the last 50 messages, both sides)
    GET  /openapi.json  the OpenAPI description of these routes

Who is speaking comes from the signed session cookie (`web_session`), issued
by the first request without one; a `user_id` in the body is ignored. A
`message_id` seen before is answered from the history, never processed twice.

A reply's `edit_key` names the message it replaces on the page: the server
reuses the newest message's key only while that message is still the newest
on the page, else gives a fresh one, so an edit never lands far up the
history (`web_screen`).

Bad requests get a 4xx with a bilingual message, never a 500; when the
dispatcher fails, a 503 carries the same apology the other channels send.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.channels import ChannelContext, web_history
from bot.channels.base import Channel, Handler
from bot.channels.http_body import BadJson, BodyTooLarge, loads_limited, read_body
from bot.channels.receive import apology_in
from bot.channels.web_openapi import openapi_description
from bot.channels.web_screen import Screens
from bot.channels.web_session import WebSessions
from bot.media import media_secret
from core.messages import Capabilities, Inbound, InboundKind, Reply
from storage.base import Storage

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PAGE_FILE = HERE / "web_page.html"
# The page's own style and script, served beside it (no inline code: the CSP forbids it).
ASSETS = {"/web/chat.css": ("web_chat.css", "text/css"), "/web/chat.js": ("web_chat.js", "text/javascript")}
MAX_BODY = 32 * 1024
MAX_TEXT = 10_000  # the dispatcher politely refuses anything over its own limit
MAX_PAYLOAD = 200
PENDING_PER_USER = 50  # notices kept for a page that is not open (the newest)
_USER_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",  # no framing by another site (clickjacking), for older browsers too
    "X-Content-Type-Options": "nosniff",
}


def _refuse(status: int, vietnamese: str, english: str) -> JSONResponse:
    return JSONResponse({"error": english, "message_vi": vietnamese, "message_en": english}, status_code=status)


class WebChannel(Channel):
    name = "web"
    capabilities = Capabilities(buttons=True, max_text_length=4000, image_by="url", edit_messages=True)

    def __init__(self, storage: Storage, media: Any = None, session_secret: bytes | None = None) -> None:
        self.media = media
        # Notifications wait in storage until the page polls for them: they
        # survive a restart, and any worker can hand them over.
        self.storage = storage
        self.sessions = WebSessions(session_secret or secrets.token_bytes(32))
        self._handle: Handler | None = None
        self._page = PAGE_FILE.read_text(encoding="utf-8")
        self._screens = Screens()
        self._assets = {path: ((HERE / name).read_bytes(), kind) for path, (name, kind) in ASSETS.items()}
        # One turn at a time per user here, so a retried message finds the
        # first one's replies in the history (the dispatcher dedupes too).
        self._turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page, methods=["GET"]),
            *[Route(path, self.asset, methods=["GET"]) for path in ASSETS],
            Route("/api/chat", self.chat, methods=["POST"]),
            Route("/api/chat/updates", self.updates, methods=["GET"]),
            Route("/api/chat/history", self.history, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]

    async def start(self, handle: Handler) -> None:
        self._handle = handle

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        lang = await self._language(chat_id)
        notices = [self.render(reply, lang, self._screens.place(chat_id, reply)) for reply in replies]
        await self.storage.append_history(self.name, chat_id, notices, web_history.KEEP)
        await self.storage.queue_notices(self.name, chat_id, notices, PENDING_PER_USER)

    def session_cookie(self, user_id: str) -> dict[str, str]:
        """The cookie that speaks as `user_id` (for API clients and tests)."""
        return {"troly_session": self.sessions.cookie_value(user_id)}

    # --- HTTP -------------------------------------------------------------------
    def _session(self, request: Request) -> tuple[str, bool]:
        """The request's user id, and whether it is new (a cookie to set)."""
        user_id = self.sessions.user_of(request)
        return (user_id, False) if user_id else (self.sessions.new_user_id(), True)

    def _answer(self, request: Request, response: Response, user_id: str, new: bool) -> Response:
        if new:
            self.sessions.attach(response, request, user_id)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def page(self, request: Request) -> Response:
        user_id, new = self._session(request)
        return self._answer(request, HTMLResponse(self._page, headers=_SECURITY_HEADERS), user_id, new)

    async def asset(self, request: Request) -> Response:
        body, kind = self._assets[request.url.path]
        return Response(body, media_type=kind, headers={"X-Content-Type-Options": "nosniff"})

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
        user_id, new = self._session(request)
        inbound = self._inbound(data, user_id)
        if isinstance(inbound, JSONResponse):
            return inbound
        if self._handle is None:
            return _refuse(503, "Trợ lý đang khởi động, bạn thử lại sau giây lát.", "Starting up, try again shortly.")
        echo = data.get("echo")
        if echo is not None and (not isinstance(echo, str) or len(echo) > MAX_PAYLOAD):
            return _refuse(400, "echo không hợp lệ.", f"echo must be a string of at most {MAX_PAYLOAD} characters.")
        try:
            replies = await self._turn(inbound, data.get("message_id"), echo)
        except Exception:  # the page may try again: the turn was not recorded
            log.exception("web: the dispatcher failed")
            return _refuse(503, apology_in("vi"), apology_in("en"))
        return self._answer(request, JSONResponse({"replies": replies}), user_id, new)

    async def _turn(self, inbound: Inbound, key: str | None, echo: str | None) -> list[dict[str, Any]]:
        """The turn's rendered replies, kept in the history; a key seen
        before gets the replies it got then."""
        assert self._handle is not None
        lock = self._turns.setdefault(inbound.user_id, asyncio.Lock())
        async with lock:
            self._screens.received(inbound)
            replies = await self._handle(inbound)
            if not replies and key:
                # The dispatcher answers a message id it has seen with nothing:
                # a retry whose first answer was lost gets that answer again.
                earlier = web_history.answered(await self._history(inbound.user_id), key)
                if earlier is not None:
                    return earlier
            user = await self.storage.get_user(self.name, inbound.user_id)
            lang = (user.language if user else None) or "vi"
            rendered = [self.render(reply, lang, self._screens.place(inbound.chat_id, reply)) for reply in replies]
            consented = bool(user and user.consent_at)
            if not consented and web_history.has_typed_words(await self._history(inbound.user_id)):
                # Consent withdrawn: the citizen's words kept under it go (with the rest of the history).
                await self.storage.clear_history(self.name, inbound.user_id)
            mine = web_history.citizen_entry(inbound, consented, echo)
            entries = ([mine] if mine else []) + rendered
            if key:
                entries = [{**entry, "key": key} for entry in entries]
            await self.storage.append_history(self.name, inbound.user_id, entries, web_history.KEEP)
            return rendered

    async def _history(self, user_id: str) -> list[dict[str, Any]]:
        return await self.storage.recent_history(self.name, user_id, web_history.KEEP)

    def _inbound(self, data: dict, user_id: str) -> Inbound | JSONResponse:
        claimed = data.get("user_id")  # ignored (the cookie says who), but checked as before
        if claimed is not None and (not isinstance(claimed, str) or not _USER_ID.match(claimed)):
            return _refuse(400, "Sai user_id.", "user_id is not valid (1-64 of A-Z a-z 0-9 _ -).")
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
        user_id, new = self._session(request)
        notices = [] if new else await self.storage.take_notices(self.name, user_id)
        return self._answer(request, JSONResponse({"replies": notices}), user_id, new)

    async def history(self, request: Request) -> Response:
        """The conversation for a reloaded page; waiting notices are in it
        already, so they are taken too."""
        user_id, new = self._session(request)
        if new:
            return self._answer(request, JSONResponse({"replies": []}), user_id, new)
        entries = await self.storage.recent_history(self.name, user_id, web_history.KEEP)
        await self.storage.take_notices(self.name, user_id)
        return self._answer(request, JSONResponse({"replies": web_history.page_view(entries)}), user_id, new)

    async def _language(self, user_id: str) -> str:
        user = await self.storage.get_user(self.name, user_id)
        return (user.language if user else None) or "vi"

    # --- rendering ----------------------------------------------------------------
    def render(self, reply: Reply, lang: str = "vi", page_key: str | None = None) -> dict:
        """A reply as the page's JSON; `page_key`: the message it replaces or starts (see `web_screen`)."""
        rows = [
            [{"title": b.title, "payload": b.payload, **({"opens_menu": True} if b.opens_menu else {})} for b in row]
            for row in reply.buttons
        ]
        rendered: dict[str, Any] = {
            "id": secrets.token_hex(8),  # the page shows each message once (history and notices overlap)
            "from": "bot",
            "lang": lang,
            "kind": reply.kind,
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
    page's message id."""
    return hashlib.sha256(f"{user_id}\n{message_id}".encode()).hexdigest()[:40]


def _locale(value: Any) -> str | None:
    return value[:16] if isinstance(value, str) else None


def from_settings(context: ChannelContext) -> WebChannel:
    """The web chat is always on: it is the offline demo. Its session key
    comes from the media secret, so sessions survive restarts."""
    settings = context.settings
    secret = media_secret(settings.path(settings.media.secret_file))
    return WebChannel(context.storage, context.media, session_secret=hmac.digest(secret, b"web-session", "sha256"))
