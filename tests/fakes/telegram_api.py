"""A loopback fake of the Telegram Bot API, in the spirit of opsdroid's
`ExternalAPIMockServer`: a real HTTP server that python-telegram-bot talks to
through its own, unchanged `HTTPXRequest` (point the bot's `base_url` at
`FakeTelegramApi.base_url`).

It records every call, keeps the chats as a user would see them (messages,
edits, photos, inline keyboards), plays the user's side (texts, button
presses, contacts, deep-link starts) by long polling or by posting to the
registered webhook (running the Bot API call a bot may put in the webhook's
response, as Telegram does), and can be scripted to fail: a 429 with `retry_after`,
a 403 for a user who blocked the bot, a 5xx. Optional `RateLimits` enforce
Telegram's flood limits (30 messages/s overall, 1/s per chat) with 429s, for
broadcast benchmarks.

    async with FakeTelegramApi() as api:
        bot = telegram.Bot(api.token, base_url=api.base_url)
        await api.user_says("xin chào")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.flood_limits import FloodGate, RateLimits

DEFAULT_TOKEN = "123456789:AAtroly-test-token_0123456789abcdefgh"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Trợ lý LLTP", "username": "troly_test_bot"}
# Parameters python-telegram-bot sends JSON-encoded inside form fields.
JSON_FIELDS = {"reply_markup", "commands", "scope", "media", "allowed_updates", "link_preview_options", "entities"}
# Methods that count against Telegram's flood limits.
MESSAGE_METHODS = {
    "sendMessage",
    "sendPhoto",
    "editMessageText",
    "editMessageCaption",
    "editMessageMedia",
    "editMessageReplyMarkup",
}
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler", "blockquote"}


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    status: int  # the HTTP status the fake answered
    at: float  # time.monotonic()
    in_webhook_response: bool = False  # the bot put it in its webhook response

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)


@dataclass
class ChatMessage:
    """A message as it now shows in the chat."""

    message_id: int
    from_bot: bool
    text: str = ""  # the rendered text (caption for photos), tags stripped
    raw: str = ""  # the text exactly as sent, markup included
    photo_file_id: str | None = None
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    edits: int = 0

    @property
    def button_titles(self) -> list[str]:
        return [button["text"] for row in self.buttons for button in row]


@dataclass
class _Failure:
    method: str | None
    chat_id: str | None
    status: int
    description: str
    retry_after: int | None
    times: int


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


class _HtmlChecker(HTMLParser):
    """Telegram's HTML parse mode: only a few tags, and every `<`/`&` of
    plain text must be escaped, otherwise 400 "can't parse entities"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag not in HTML_TAGS:
            self.error = f'Unsupported start tag "{tag}"'

    def handle_endtag(self, tag):
        if tag not in HTML_TAGS:
            self.error = f'Unsupported end tag "{tag}"'

    def handle_data(self, data):
        self.text.append(data)


def _render(text: str, parse_mode: str | None) -> str:
    if (parse_mode or "").upper() != "HTML":
        return text
    if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text) or re.search(r"<(?![a-z/-])", text):
        raise ApiError(400, "Bad Request: can't parse entities: unescaped character")
    checker = _HtmlChecker()
    checker.feed(text)
    checker.close()
    if checker.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {checker.error}")
    return "".join(checker.text)


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _check_keyboard(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    if not markup:
        return []
    rows = markup.get("inline_keyboard", [])
    for row in rows:
        for button in row:
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button:
                parts = urlsplit(button["url"])
                host = parts.hostname or ""
                if (
                    parts.scheme not in ("http", "https", "tg")
                    or host in ("localhost", "")
                    or re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?", host)
                ):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return rows


class FakeTelegramApi:
    """The fake Bot API server. Use as `async with FakeTelegramApi() as api`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        rate_limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_user: dict[str, Any] = dict(BOT_USER)  # what getMe answers; tests may break it
        self.rate_limits = rate_limits
        self.clock = clock  # the rate limits' time, in seconds; tests may pass a settable one
        self.calls: list[ApiCall] = []
        self.chats: dict[str, list[ChatMessage]] = defaultdict(list)
        self.commands: dict[str, list[dict[str, str]]] = {}  # language_code ("" = default) -> commands
        self.webhook: dict[str, Any] | None = None  # url, secret_token, allowed_updates
        self.blocked: set[str] = set()
        self.uploads: dict[str, bytes] = {}  # file_id -> PNG bytes
        self.answered_callbacks: set[str] = set()
        self._failures: list[_Failure] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._message_ids: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))
        self._file_ids = itertools.count(1)
        self._new_update = asyncio.Condition()
        self._closing = False
        self._flood_gate = FloodGate(rate_limits or RateLimits())
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task | None = None
        # Like Telegram, at most 100 webhook requests at once (setWebhook's
        # max_connections), the others wait their turn rather than fail.
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(10, pool=None), limits=httpx.Limits(max_connections=100))
        self.port = 0

    # --- lifecycle -------------------------------------------------------
    @property
    def base_url(self) -> str:
        """python-telegram-bot's `base_url` (the token is appended to it)."""
        return f"http://127.0.0.1:{self.port}/bot"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])

    async def __aenter__(self) -> FakeTelegramApi:
        self._server, self._serve_task, self.port = await _start_server(self.app())
        return self

    async def __aexit__(self, *exc_info) -> None:
        async with self._new_update:  # end pending long polls, so the server stops at once
            self._closing = True
            self._new_update.notify_all()
        await self._client.aclose()
        await _stop_server(self._server, self._serve_task)

    # --- scripting -------------------------------------------------------
    def fail(
        self,
        method: str | None = None,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        chat_id: str | int | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (any method if None,
        optionally only for `chat_id`) with an error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        default = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            500: "Internal Server Error",
        }.get(status, "Bad Request")
        chat = None if chat_id is None else str(chat_id)
        self._failures.append(_Failure(method, chat, status, description or default, retry_after, times))

    def block(self, chat_id: str | int) -> None:
        """The user blocks the bot: every send to them gets a 403."""
        self.blocked.add(str(chat_id))

    # --- the user's side -------------------------------------------------
    async def user_says(
        self, text: str, *, user_id: int = 42, language_code: str | None = "vi", first_name: str = "Lan"
    ) -> dict[str, Any]:
        """The user sends a text (a `/start payload` too); returns the update."""
        message = self._user_message(user_id, language_code, first_name)
        message["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self._deliver({"message": message})

    async def member_replies_in_group(
        self, group_id: int, replied: ChatMessage, text: str, *, user_id: int = 77, first_name: str = "Cán bộ"
    ) -> dict[str, Any]:
        """A member of a group chat answers (reply-to) one of the bot's
        messages there; returns the update."""
        chat = str(group_id)
        message_id = next(self._message_ids[chat])
        self.chats[chat].append(ChatMessage(message_id, from_bot=False, text=text))
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": group_id, "type": "supergroup", "title": "Officers"},
            "from": self._user(user_id, "vi", first_name),
            "text": text,
            "reply_to_message": {
                **self._message_json(chat, replied),
                "chat": {"id": group_id, "type": "supergroup", "title": "Officers"},
            },
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}]
        update = {"update_id": next(self._update_ids), "message": message}
        await self._send_update(update)
        return update

    async def user_says_without_is_bot(self, text: str, *, user_id: int = 42) -> dict[str, Any]:
        """A message whose sender lacks `is_bot`, as the npm telegram-test-api sends."""
        message = {**self._user_message(user_id, "vi", "Lan"), "text": text}
        del message["from"]["is_bot"]
        return await self._deliver({"message": message})

    async def user_shares_contact(self, phone: str, *, user_id: int = 42, language_code: str | None = "vi") -> dict:
        message = self._user_message(user_id, language_code, "Lan")
        message["contact"] = {"phone_number": phone, "first_name": "Lan", "user_id": user_id}
        return await self._deliver({"message": message})

    async def user_sends_sticker(self, *, user_id: int = 42) -> dict[str, Any]:
        message = self._user_message(user_id, "vi", "Lan")
        message["sticker"] = {
            "file_id": "sticker1", "file_unique_id": "s1", "width": 512, "height": 512,
            "is_animated": False, "is_video": False, "type": "regular",
        }  # fmt: skip
        return await self._deliver({"message": message})

    async def user_presses(
        self,
        title: str,
        *,
        user_id: int = 42,
        language_code: str | None = "vi",
        message: ChatMessage | None = None,
    ) -> dict[str, Any]:
        """The user presses the inline button titled `title` on `message`
        (default: the newest bot message that has it)."""
        chat = str(user_id)
        candidates = [message] if message else reversed(self.chats[chat])
        for candidate in candidates:
            for row in candidate.buttons:
                for button in row:
                    if button["text"] == title and "callback_data" in button:
                        return await self.user_presses_data(
                            button["callback_data"], candidate, user_id=user_id, language_code=language_code
                        )
        raise AssertionError(f"no button {title!r} in chat {chat}: {[m.button_titles for m in self.chats[chat]]}")

    async def user_presses_data(
        self, data: str, message: ChatMessage, *, user_id: int = 42, language_code: str | None = "vi"
    ) -> dict[str, Any]:
        user = self._user(user_id, language_code, "Lan")
        query = {
            "id": str(next(self._callback_ids)),
            "from": user,
            "chat_instance": f"ci{user_id}",
            "data": data,
            "message": self._message_json(str(user_id), message),
        }
        return await self._deliver({"callback_query": query})

    async def replay(self, update: dict[str, Any]) -> int | None:
        """Deliver an already delivered update again (Telegram retries)."""
        return await self._send_update(update)

    # --- inspection ------------------------------------------------------
    def calls_to(self, method: str, *, ok_only: bool = True) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method and (call.status == 200 or not ok_only)]

    def bot_messages(self, chat_id: str | int = 42) -> list[ChatMessage]:
        return [message for message in self.chats[str(chat_id)] if message.from_bot]

    def last_bot_message(self, chat_id: str | int = 42) -> ChatMessage:
        messages = self.bot_messages(chat_id)
        assert messages, f"the bot sent nothing to chat {chat_id}"
        return messages[-1]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (the bot works concurrently)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the bot")
            await asyncio.sleep(0.01)

    # --- internals: updates ----------------------------------------------
    def _user(self, user_id: int, language_code: str | None, first_name: str) -> dict[str, Any]:
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        return user

    def _user_message(self, user_id: int, language_code: str | None, first_name: str) -> dict[str, Any]:
        chat = str(user_id)
        message_id = next(self._message_ids[chat])
        self.chats[chat].append(ChatMessage(message_id, from_bot=False))
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "from": self._user(user_id, language_code, first_name),
        }

    async def _deliver(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        if "message" in update and "text" in update["message"]:
            self.chats[str(update["message"]["chat"]["id"])][-1].text = update["message"]["text"]
        await self._send_update(update)
        return update

    async def _send_update(self, update: dict[str, Any]) -> int | None:
        """Post to the webhook if one is set (returns the HTTP status), else
        queue for getUpdates."""
        if self.webhook:
            headers = {}
            if self.webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
            response = await self._client.post(self.webhook["url"], json=update, headers=headers)
            if response.status_code == 200 and response.content:
                await self.run_webhook_answer(response.content)
            return response.status_code
        async with self._new_update:
            self._updates.append(update)
            self._new_update.notify_all()
        return None

    # --- internals: the HTTP endpoint ------------------------------------
    async def run_webhook_answer(self, body: bytes) -> None:
        """Execute the Bot API call a bot put in its webhook response, as
        Telegram does (its result goes nowhere)."""
        params = json.loads(body)
        await self._perform(params.pop("method"), params, {}, in_webhook_response=True)

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params, files = await self._read_params(request)
        if request.path_params["token"] != self.token:
            return self._record(method, params, files, ApiError(401, "Unauthorized"))
        return await self._perform(method, params, files)

    async def _perform(
        self, method: str, params: dict[str, Any], files: dict[str, bytes], in_webhook_response: bool = False
    ) -> JSONResponse:
        try:
            self._scripted_failure(method, params)
            self._rate_limit(method, params)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params, files)
        except ApiError as error:
            return self._record(method, params, files, error, in_webhook_response)
        self._record(method, params, files, None, in_webhook_response)
        return JSONResponse({"ok": True, "result": result})

    async def _read_params(self, request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = dict(request.query_params)
        files: dict[str, bytes] = {}
        if request.method == "POST":
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("application/json"):
                params.update(await request.json())
            else:
                form = await request.form()
                for key, value in form.multi_items():
                    if hasattr(value, "read"):
                        files[key] = await value.read()
                    else:
                        params[key] = json.loads(value) if key in JSON_FIELDS else value
        return params, files

    def _record(self, method, params, files, error: ApiError | None, in_webhook_response=False) -> JSONResponse | None:
        status = error.status if error else 200
        self.calls.append(ApiCall(method, params, files, status, time.monotonic(), in_webhook_response))
        if error is None:
            return None
        body: dict[str, Any] = {"ok": False, "error_code": error.status, "description": error.description}
        if error.retry_after:
            body["parameters"] = {"retry_after": error.retry_after}
        return JSONResponse(body, status_code=error.status)

    def _scripted_failure(self, method: str, params: dict[str, Any]) -> None:
        chat = str(params.get("chat_id", ""))
        if method in MESSAGE_METHODS | {"sendChatAction"} and chat in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        for failure in self._failures:
            if failure.times > 0 and failure.method in (None, method) and failure.chat_id in (None, chat):
                failure.times -= 1
                raise ApiError(failure.status, failure.description, failure.retry_after)

    def _rate_limit(self, method: str, params: dict[str, Any]) -> None:
        if not self.rate_limits or method not in MESSAGE_METHODS:
            return
        now = self.clock()
        chat = str(params.get("chat_id", ""))
        wait = self._flood_gate.admit(chat, now)
        if wait is not None:
            raise ApiError(429, "Too Many Requests", wait)

    # --- internals: Bot API methods --------------------------------------
    def _chat(self, params: dict[str, Any]) -> str:
        if "chat_id" not in params:
            raise ApiError(400, "Bad Request: chat_id is empty")
        return str(params["chat_id"])

    def _message_json(self, chat: str, message: ChatMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": int(chat), "type": "private"},
            "from": BOT_USER,
        }
        if message.photo_file_id:
            data["photo"] = [{"file_id": message.photo_file_id, "file_unique_id": message.photo_file_id[-8:],
                              "width": 1, "height": 1}]  # fmt: skip
            if message.raw:
                data["caption"] = message.text
        else:
            data["text"] = message.text
        if message.buttons:
            data["reply_markup"] = {"inline_keyboard": message.buttons}
        return data

    def _find(self, params: dict[str, Any]) -> tuple[str, ChatMessage]:
        chat = self._chat(params)
        message_id = int(params.get("message_id", 0))
        for message in self.chats[chat]:
            if message.message_id == message_id and message.from_bot:
                return chat, message
        raise ApiError(400, "Bad Request: message to edit not found")

    def _photo(self, value: Any, files: dict[str, bytes]) -> str:
        """A file_id for an uploaded file or a reused one."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value.removeprefix("attach://"))
        if isinstance(value, str):
            if value not in self.uploads:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return value
        if value is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        _png_size(value)
        file_id = f"AgACAgFake{next(self._file_ids):06d}"
        self.uploads[file_id] = value
        return file_id

    async def _api_getMe(self, params, files):
        return self.bot_user

    async def _api_logOut(self, params, files):
        return True

    async def _api_close(self, params, files):
        return True

    async def _api_setMyCommands(self, params, files):
        self.commands[params.get("language_code", "")] = params["commands"]
        return True

    async def _api_getMyCommands(self, params, files):
        return self.commands.get(params.get("language_code", ""), [])

    async def _api_setWebhook(self, params, files):
        if not params.get("url"):
            self.webhook = None
        else:
            self.webhook = {key: params.get(key) for key in ("url", "secret_token", "allowed_updates")}
        return True

    async def _api_deleteWebhook(self, params, files):
        self.webhook = None
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._updates.clear()
        return True

    async def _api_getWebhookInfo(self, params, files):
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}  # fmt: skip

    async def _api_getUpdates(self, params, files):
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = float(params.get("timeout", 0) or 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        async with self._new_update:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
            if not self._updates and timeout and not self._closing:
                try:
                    await asyncio.wait_for(self._new_update.wait(), timeout)
                except TimeoutError:
                    pass
            ready = [u for u in self._updates if u["update_id"] >= offset]
        if allowed:
            ready = [u for u in ready if any(kind in u for kind in allowed)]
        return ready[:limit]

    async def _api_sendChatAction(self, params, files):
        self._chat(params)
        return True

    async def _api_answerCallbackQuery(self, params, files):
        query_id = str(params.get("callback_query_id", ""))
        if query_id in self.answered_callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.answered_callbacks.add(query_id)
        return True

    async def _api_sendMessage(self, params, files):
        chat = self._chat(params)
        raw = str(params.get("text", ""))
        text = _render(raw, params.get("parse_mode"))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        buttons = _check_keyboard(params.get("reply_markup"))
        message = ChatMessage(next(self._message_ids[chat]), True, text=text, raw=raw, buttons=buttons)
        self.chats[chat].append(message)
        return self._message_json(chat, message)

    async def _api_sendPhoto(self, params, files):
        chat = self._chat(params)
        file_id = self._photo(params.get("photo", files.get("photo")), files)
        raw = str(params.get("caption", ""))
        caption = _render(raw, params.get("parse_mode"))
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        buttons = _check_keyboard(params.get("reply_markup"))
        message = ChatMessage(next(self._message_ids[chat]), True, caption, raw, photo_file_id=file_id, buttons=buttons)
        self.chats[chat].append(message)
        return self._message_json(chat, message)

    def _edit(self, message: ChatMessage, text: str, raw: str, buttons, file_id: str | None = None) -> None:
        if (message.text, message.buttons, message.photo_file_id) == (text, buttons, file_id or message.photo_file_id):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup")  # fmt: skip
        message.text, message.raw, message.buttons = text, raw, buttons
        message.photo_file_id = file_id or message.photo_file_id
        message.edits += 1

    async def _api_editMessageText(self, params, files):
        chat, message = self._find(params)
        if message.photo_file_id:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        raw = str(params.get("text", ""))
        text = _render(raw, params.get("parse_mode"))
        if not text.strip() or len(text) > 4096:
            raise ApiError(400, "Bad Request: message text is empty or too long")
        self._edit(message, text, raw, _check_keyboard(params.get("reply_markup")))
        return self._message_json(chat, message)

    async def _api_editMessageCaption(self, params, files):
        chat, message = self._find(params)
        if not message.photo_file_id:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        raw = str(params.get("caption", ""))
        self._edit(message, _render(raw, params.get("parse_mode")), raw, _check_keyboard(params.get("reply_markup")))
        return self._message_json(chat, message)

    async def _api_editMessageMedia(self, params, files):
        chat, message = self._find(params)
        media = params.get("media") or {}
        if media.get("type") != "photo":
            raise ApiError(400, "Bad Request: unsupported media type")
        if not message.photo_file_id:
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        file_id = self._photo(media.get("media"), files)
        raw = str(media.get("caption", ""))
        text = _render(raw, media.get("parse_mode"))
        self._edit(message, text, raw, _check_keyboard(params.get("reply_markup")), file_id)
        return self._message_json(chat, message)

    async def _api_editMessageReplyMarkup(self, params, files):
        chat, message = self._find(params)
        self._edit(message, message.text, message.raw, _check_keyboard(params.get("reply_markup")))
        return self._message_json(chat, message)

    async def _api_deleteMessage(self, params, files):
        chat, message = self._find(params)
        self.chats[chat].remove(message)
        return True


def loopback_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port: its address is known
    before the app starts (a webhook URL to register at start-up)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _start_server(app, sock: socket.socket | None = None) -> tuple[uvicorn.Server, asyncio.Task, int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # older uvicorn
    task = asyncio.create_task(server.serve(sockets=[sock] if sock else None))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def _stop_server(server: uvicorn.Server | None, task: asyncio.Task | None) -> None:
    if server is None or task is None:
        return
    server.should_exit = True
    await task


@asynccontextmanager
async def serve(app, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve any ASGI app (lifespan included) on a loopback port (or on
    `sock`, from `loopback_socket()`) for the duration; yields its base URL,
    e.g. `http://127.0.0.1:53117`."""
    server, task, port = await _start_server(app, sock)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await _stop_server(server, task)
