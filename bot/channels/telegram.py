"""Telegram, through python-telegram-bot (v22): the adapter only translates.

Inbound: a `telegram.Update` (long polling with `getUpdates`, or a webhook
served by our own ASGI app, python-telegram-bot's custom-webhook pattern)
becomes an `Inbound`; `/start <payload>` is a deep-link start; a button press
is answered at once so its spinner stops.

Outbound: a plain text reply joins the one after it (`folded`: one message,
one notification). Each message then is text with an inline keyboard, a photo
(uploaded once, then re-sent by `file_id`), or an edit of the message that
carried the same `edit_key` when that message is still the one the user is
looking at. Text goes out in HTML parse mode, escaped, split at 4,096
characters (1,024 for a caption). "typing..." shows while a slow answer is
being prepared.

Answer in the webhook (`telegram.webhook_reply_seconds` > 0): the webhook
request waits up to that long for its turn, so an update is acknowledged
only once its answer is saved (a worker dying mid-message gets no 200, and
Telegram delivers the update again). A reply that is one plain text message
goes back as the response body (`{"method": "sendMessage", ...}`), which
Telegram executes: one Bot API request less per message, about a fifth of
a worker's CPU under load (bench/load.py). Of a reply in several parts,
the others are sent first and the last one rides. Telegram does not say
whether it delivered it, so messages whose id we need later (ones that can
be edited in place) and photos still go by the Bot API, as does any reply
not ready in time.

Errors: 403 marks the user unreachable (`UserUnreachable`), 429 waits
`retry_after` (or raises `RateLimited` from `send`), network errors retry
with backoff (then `TransientError`). A duplicated update is dropped here as
well as in the dispatcher.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import html
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Opt in to python-telegram-bot's next major behaviour (time periods as
# timedelta), which v22 otherwise warns about on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (  # noqa: E402
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    Message,
    Update,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.channels.base import (
    Channel,
    ChatOrderedTasks,
    DeliveryError,
    Handler,
    RateLimited,
    TransientError,
    UserUnreachable,
    split_text,
)
from bot.config import TelegramSettings
from core.secrets import secret
from core.messages import Capabilities, Image, Inbound, InboundKind, Reply

if TYPE_CHECKING:
    from bot.channels import ChannelContext
    from storage.base import Storage

log = logging.getLogger(__name__)
T = TypeVar("T")

NAME = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
CAPTION_LIMIT = MessageLimit.CAPTION_LENGTH  # 1024
CALLBACK_DATA_LIMIT = 64  # bytes
LONG_PAYLOAD_PREFIX = "~"
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing..." for about 5 s
NETWORK_RETRIES = 3
MAX_UPDATE_BYTES = 1_000_000  # updates are a few kB; anything bigger is not from Telegram
RATE_LIMIT_RETRIES = 3
APOLOGY = (
    "Xin lỗi, trợ lý đang gặp sự cố. Bạn vui lòng thử lại sau ít phút.\n"
    "Sorry, something went wrong on our side. Please try again in a few minutes."
)
EXPIRED_BUTTON = "Nút này đã hết hạn, bạn gõ /menu nhé. / This button has expired, please type /menu."


def from_settings(context: ChannelContext) -> TelegramChannel | None:
    """The Telegram channel when `TELEGRAM_BOT_TOKEN` is set, else None."""
    token = secret("TELEGRAM_BOT_TOKEN")
    if not token:
        return None
    return TelegramChannel(
        token,
        context.settings.telegram,
        storage=context.storage,
        base_url=secret("TELEGRAM_BASE_URL") or DEFAULT_BASE_URL,
        webhook_secret=secret("TELEGRAM_WEBHOOK_SECRET"),
    )


def derived_webhook_secret(token: str) -> str:
    """A stable webhook secret when none is configured: only someone who
    knows the bot token can compute it (allowed characters: hex)."""
    return hmac.new(token.encode(), b"troly telegram webhook", hashlib.sha256).hexdigest()


def to_inbound(update: Update, resolve_payload: Callable[[str], str | None] = lambda data: data) -> Inbound | None:
    """Translate an update into our message model; None for updates the bot
    does not act on (edits, channel posts...)."""
    if update.callback_query is not None:
        query = update.callback_query
        payload = resolve_payload(query.data or "")
        if payload is None or query.message is None:
            return None
        return Inbound(
            channel=NAME,
            user_id=str(query.from_user.id),
            chat_id=str(query.message.chat.id),
            kind=InboundKind.BUTTON,
            payload=payload,
            locale=query.from_user.language_code,
            update_id=str(update.update_id),
        )
    message = update.message
    if message is None or message.from_user is None:
        return None
    common = {
        "channel": NAME,
        "user_id": str(message.from_user.id),
        "chat_id": str(message.chat.id),
        "locale": message.from_user.language_code,
        "update_id": str(update.update_id),
    }
    if message.reply_to_message is not None and message.chat.type != "private":
        common["reply_to_text"] = message.reply_to_message.text or message.reply_to_message.caption or ""
    if message.contact is not None:
        return Inbound(kind=InboundKind.CONTACT, text=message.contact.phone_number, **common)
    text = message.text or message.caption or ""
    command, _, argument = text.partition(" ")
    if command.split("@", 1)[0] == "/start":
        payload = argument.strip()
        payload = payload if START_PAYLOAD.match(payload) else ""
        return Inbound(kind=InboundKind.START, payload=payload, reachable_again=True, **common)
    if text.startswith("/"):  # "/help@troly_bot" in a group -> "/help"
        text = command.split("@", 1)[0] + (f" {argument}" if argument else "")
    return Inbound(kind=InboundKind.TEXT, text=text, **common)


def folded(replies: Sequence[Reply]) -> list[Reply]:
    """The replies of one answer as few messages: a plain text (no buttons,
    link, picture or edit) goes in one message with the text after it. One
    notification instead of several, one Bot API call (it can then ride in
    the webhook response), and Telegram lets a bot send a chat only about
    one message a second."""
    messages: list[Reply] = []
    for reply in replies:
        before = messages[-1] if messages else None
        if (
            before is not None
            and before.text
            and not (before.buttons or before.link or before.image or before.edit_key)
            and reply.text
            and reply.image is None
            and reply.edit_key is None
            and len(before.text) + 2 + len(reply.text) <= TEXT_LIMIT
        ):
            messages[-1] = dataclasses.replace(reply, text=f"{before.text}\n\n{reply.text}")
        else:
            messages.append(reply)
    return messages


def to_html(text: str) -> str:
    """Escape for Telegram's HTML parse mode; `**bold**` becomes bold."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text, quote=False), flags=re.S)


def _retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _settle(answer: asyncio.Future | None, result: Any) -> None:
    if answer is not None and not answer.done():
        answer.set_result(result)


def _link_as_button(url: str) -> bool:
    """Telegram rejects URL buttons to local hosts or bare IP addresses;
    those links go in the text instead."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and "." in host and not re.fullmatch(r"[\d.]+", host)


class _RedactToken(logging.Filter):
    """httpx logs every request URL at INFO, and Bot API URLs hold the token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<TELEGRAM_BOT_TOKEN>"), ()
        return True


class _HideBotApiContent(logging.Filter):
    """python-telegram-bot logs, at DEBUG, every Bot API call with its
    parameters and result: the citizens' messages and ours, with request
    codes, id and phone numbers and signed links. Keep the endpoint only."""

    SUMMARIES = {
        "Calling Bot API endpoint `%s` with parameters `%s`": "Calling Bot API endpoint `%s`",
        "Call to Bot API endpoint `%s` finished with return value `%s`": "Call to Bot API endpoint `%s` finished",
    }

    def filter(self, record: logging.LogRecord) -> bool:
        summary = self.SUMMARIES.get(record.msg) if isinstance(record.msg, str) else None
        if summary is not None and isinstance(record.args, tuple) and record.args:
            record.msg, record.args = summary, record.args[:1]
        return True


def _hide_token_in_logs(token: str) -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(item, _RedactToken) and item.token == token for item in logger.filters):
        logger.addFilter(_RedactToken(token))
    for name in ("telegram.Bot", "telegram.ext.ExtBot"):
        bot_logger = logging.getLogger(name)
        if not any(isinstance(item, _HideBotApiContent) for item in bot_logger.filters):
            bot_logger.addFilter(_HideBotApiContent())


class _Recent(OrderedDict):
    """A bounded mapping that forgets its oldest entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class TelegramChannel(Channel):
    name = NAME
    capabilities = Capabilities(
        buttons=True, max_text_length=TEXT_LIMIT, image_by="upload", deep_link_start=True, edit_messages=True
    )

    def __init__(
        self,
        token: str,
        settings: TelegramSettings,
        *,
        storage: Storage | None = None,
        base_url: str = DEFAULT_BASE_URL,
        webhook_secret: str | None = None,
        retry_delay: float = 0.5,
        max_rate_limit_wait: float = 60.0,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.retry_delay = retry_delay
        self.max_rate_limit_wait = max_rate_limit_wait
        self.webhook_secret = webhook_secret or derived_webhook_secret(token)
        _hide_token_in_logs(token)
        base_file_url = base_url.removesuffix("/bot") + "/file/bot"
        self.bot = Bot(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=HTTPXRequest(connection_pool_size=32, media_write_timeout=30.0),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )
        self.ready = asyncio.Event()  # set once connected (commands set, webhook or polling on)
        self.disabled_reason: str | None = None  # why the channel turned itself off, for health checks
        self._handle: Handler | None = None
        self._runner: asyncio.Task | None = None
        self._offset: int | None = None
        self._seen_updates = _Recent(4096)
        self._work = ChatOrderedTasks()
        self._edit_targets = _Recent(10_000)  # (chat_id, edit_key) -> (message_id, is_photo)
        self._latest_message = _Recent(10_000)  # chat_id -> newest message id seen in the chat
        self._file_ids = _Recent(4096)  # Image.key -> Telegram file_id
        self._long_payloads = _Recent(10_000)  # short callback_data -> payload over 64 bytes

    # --- lifecycle -------------------------------------------------------
    @property
    def webhook_mode(self) -> bool:
        return bool(self.settings.webhook_url)

    @property
    def webhook_path(self) -> str:
        return self.settings.webhook_path or urlsplit(self.settings.webhook_url).path or "/telegram/webhook"

    def routes(self) -> list[Any]:
        if not self.webhook_mode:
            return []
        return [Route(self.webhook_path, self._webhook, methods=["POST"])]

    async def start(self, handle: Handler) -> None:
        """Connect in the background (retrying while Telegram is unreachable),
        then poll, or register the webhook."""
        self._handle = handle
        self._runner = asyncio.create_task(self._run(), name="telegram")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        await self.drain(timeout=10)
        if self._offset is not None:  # confirm the last batch, so a restart does not replay it
            try:
                await self.bot.get_updates(offset=self._offset, limit=1, timeout=0)
            except TelegramError:
                log.warning("telegram: could not confirm the last updates")
        await self.bot.shutdown()
        self.ready.clear()

    @property
    def idle(self) -> bool:
        """True when no received update is still being answered."""
        return self._work.idle

    async def drain(self, timeout: float = 10) -> None:
        """Wait (up to `timeout` seconds) until every received update has been answered."""
        await self._work.drain(timeout)

    async def _run(self) -> None:
        if not await self._connect():
            return
        self.ready.set()
        if not self.webhook_mode:
            await self._poll()

    async def _connect(self) -> bool:
        delay = self.retry_delay
        while True:
            try:
                await self.bot.initialize()
                await self._set_commands()
                if self.webhook_mode:
                    if not self.settings.webhook_url.startswith("https://"):
                        log.warning("telegram: Telegram only delivers webhooks to HTTPS URLs")
                    await self.bot.set_webhook(
                        self.settings.webhook_url,
                        secret_token=self.webhook_secret,
                        allowed_updates=ALLOWED_UPDATES,
                        max_connections=self.settings.webhook_max_connections,
                    )
                else:  # getUpdates fails while a webhook is registered
                    await self.bot.delete_webhook()
                log.info("telegram: connected (%s)", "webhook" if self.webhook_mode else "long polling")
                return True
            except InvalidToken:
                self._disable("the Bot API rejected TELEGRAM_BOT_TOKEN")
                return False
            except BadRequest as error:  # e.g. a webhook URL Telegram will not use
                self._disable(f"the Bot API refused our settings ({error})")
                return False
            except RetryAfter as error:
                await asyncio.sleep(_retry_seconds(error))
            except TelegramError as error:
                log.warning("telegram: cannot connect yet (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)

    def _disable(self, reason: str) -> None:
        self.disabled_reason = reason
        self.ready.clear()
        log.error("telegram: %s; Telegram is off", reason)

    async def _set_commands(self) -> None:
        commands = self.settings.commands
        for language in ("vi", "en"):
            menu = [BotCommand(item.command, getattr(item, language)) for item in commands]
            await self.bot.set_my_commands(menu, language_code=language)
        await self.bot.set_my_commands([BotCommand(item.command, item.vi) for item in commands])

    async def _poll(self) -> None:
        delay = self.retry_delay
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset, timeout=self.settings.polling_timeout_seconds, allowed_updates=ALLOWED_UPDATES
                )
            except InvalidToken:
                self._disable("the Bot API rejected TELEGRAM_BOT_TOKEN")
                return
            except RetryAfter as error:
                await asyncio.sleep(_retry_seconds(error))
                continue
            except TelegramError as error:  # network trouble, or another instance polling (Conflict)
                log.warning("telegram: getUpdates failed (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            delay = self.retry_delay
            for update in updates:
                self._offset = update.update_id + 1
                self.submit(update)

    # --- receiving -------------------------------------------------------
    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if self._handle is None:
            return JSONResponse({"error": "not ready"}, status_code=503)  # Telegram retries later
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return JSONResponse({"error": "too large"}, status_code=413)
        try:
            update = Update.de_json(json.loads(body), self.bot)
        except Exception:  # not JSON, or not an update
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        wait = self.settings.webhook_reply_seconds
        answer = asyncio.get_running_loop().create_future() if wait > 0 else None
        self.submit(update, answer)
        if answer is None or answer.done():
            return Response(status_code=200)
        try:
            await self._wait_for_turn(answer, wait)
        except TimeoutError:
            pass
        finally:
            _settle(answer, None)  # too late: the turn sends its reply by the Bot API
        # What the turn handed over is sent even if it landed as the wait timed
        # out (`wait_for` then raises all the same): the turn counts on it.
        method = answer.result()
        return Response(status_code=200) if method is None else JSONResponse(method)

    @staticmethod
    async def _wait_for_turn(answer: asyncio.Future, seconds: float) -> None:
        await asyncio.wait_for(asyncio.shield(answer), seconds)

    def submit(self, update: Update, answer: asyncio.Future | None = None) -> None:
        """Queue an update for processing: once per update id, in order
        within its chat, concurrently across chats. `answer`, if given,
        receives the reply to send in the webhook response, or None."""
        if update.update_id in self._seen_updates:
            log.info("telegram: dropped a duplicated update")
            _settle(answer, None)
            return
        self._seen_updates[update.update_id] = True
        chat = update.effective_chat
        key = str(chat.id) if chat else f"update:{update.update_id}"
        self._work.submit(key, self._process_logged(update, answer))

    async def _process_logged(self, update: Update, answer: asyncio.Future | None = None) -> None:
        try:
            await self._process(update, answer)
        except Exception:
            log.exception("telegram: failed to process an update")
        finally:
            _settle(answer, None)

    async def _process(self, update: Update, answer: asyncio.Future | None = None) -> None:
        query = update.callback_query
        inbound = to_inbound(update, self._resolve_payload)
        if query is not None:  # stop the button's spinner first
            expired = inbound is None and query.message is not None
            await self._quietly(query.answer(text=EXPIRED_BUTTON if expired else None))
        elif update.message is not None:
            self._latest_message[str(update.message.chat.id)] = update.message.message_id
        if inbound is None or self._handle is None:
            return
        try:
            replies = await self._with_typing(inbound.chat_id, self._handle(inbound))
        except Exception:
            log.exception("telegram: the dispatcher failed")
            replies = [Reply(text=APOLOGY)]
        replies = folded(replies)
        source = query.message.message_id if query is not None and query.message is not None else None
        last = self._webhook_answer(inbound.chat_id, replies[-1]) if answer is not None and replies else None
        try:
            if last is not None:
                # The other parts first, by the Bot API: Telegram runs the
                # response's call after them, once it has the response.
                await self._deliver(inbound.chat_id, replies[:-1], source_message_id=source, patient=True)
                if not answer.done():
                    answer.set_result(last)
                    self._latest_message.pop(inbound.chat_id, None)  # its id is unknown: no edit relies on it
                    return
                replies = replies[-1:]  # the webhook stopped waiting meanwhile
            await self._deliver(inbound.chat_id, replies, source_message_id=source, patient=True)
        except DeliveryError as error:
            log.warning("telegram: reply not delivered: %s", type(error).__name__)

    async def _with_typing(self, chat_id: str, answer: Awaitable[T]) -> T:
        """`answer`, with "typing..." shown once it takes longer than
        `typing_delay_seconds`. A timer, not a task per message: most
        answers are ready long before it fires."""
        typing: asyncio.Task | None = None

        def start_typing() -> None:
            nonlocal typing
            if self._work.busy <= self.settings.typing_max_busy:  # else spend the Bot API calls on answers
                typing = asyncio.create_task(self._keep_typing(chat_id))

        timer = asyncio.get_running_loop().call_later(self.settings.typing_delay_seconds, start_typing)
        try:
            return await answer
        finally:
            timer.cancel()
            if typing is not None:
                typing.cancel()

    async def _keep_typing(self, chat_id: str) -> None:
        while True:
            await self._quietly(self.bot.send_chat_action(chat_id, "typing"))
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    async def _quietly(self, call: Awaitable[Any]) -> None:
        """Best-effort calls (typing, answering a button): never fail a reply."""
        try:
            await call
        except TelegramError as error:
            log.debug("telegram: best-effort call failed: %s", error)

    # --- sending ---------------------------------------------------------
    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies the bot starts itself; a 429 raises `RateLimited`
        so the caller (broadcast) paces itself."""
        await self._deliver(chat_id, folded(replies), source_message_id=None, patient=False)

    async def _deliver(
        self, chat_id: str, replies: Sequence[Reply], *, source_message_id: int | None, patient: bool
    ) -> None:
        for reply in replies:
            await self._deliver_one(chat_id, reply, source_message_id, patient)

    def _text_and_keyboard(self, reply: Reply) -> tuple[str, InlineKeyboardMarkup | None]:
        """The reply's text (with its link, when not a button) and inline
        keyboard; ("", None) when there is nothing to send."""
        text, rows = reply.text, [
            [InlineKeyboardButton(button.title, callback_data=self._callback_data(button.payload)) for button in row]
            for row in reply.buttons
        ]
        if reply.link is not None:
            if _link_as_button(reply.link.url):
                rows.append([InlineKeyboardButton(reply.link.title, url=reply.link.url)])
                text = text or reply.link.title
            else:
                text = "\n\n".join(filter(None, [text, f"{reply.link.title}: {reply.link.url}"]))
        keyboard = InlineKeyboardMarkup(rows) if rows else None
        if reply.image is None and not text.strip() and keyboard is not None:
            text = "👇"  # Telegram needs some text to carry the buttons
        return text, keyboard

    def _webhook_answer(self, chat_id: str, reply: Reply) -> dict[str, Any] | None:
        """The Bot API call for a webhook response, if the reply is one
        plain text message nobody will edit later; else None."""
        if reply.image is not None or reply.edit_key:
            return None
        text, keyboard = self._text_and_keyboard(reply)
        if not text.strip() or len(text) > TEXT_LIMIT:
            return None
        method = {"method": "sendMessage", "chat_id": chat_id, "text": to_html(text), "parse_mode": ParseMode.HTML}
        if keyboard is not None:
            method["reply_markup"] = keyboard.to_dict()
        return method

    async def _deliver_one(self, chat_id: str, reply: Reply, source_message_id: int | None, patient: bool) -> None:
        text, keyboard = self._text_and_keyboard(reply)
        if reply.image is None and not text.strip():
            return
        if reply.image is not None and len(text) <= CAPTION_LIMIT:
            caption, chunks = text, []  # one photo message with its caption
        else:
            caption, chunks = "", split_text(text, TEXT_LIMIT)
        one_message = (reply.image is None) == (len(chunks) == 1)
        edit_target = self._edit_target(chat_id, reply, source_message_id) if one_message else None
        if edit_target is not None:
            new_text = caption if reply.image is not None else chunks[0]
            if await self._edit(chat_id, edit_target, reply.image, new_text, keyboard, patient):
                return

        sent: Message | None = None
        if reply.image is not None:
            sent = await self._send_photo(chat_id, reply.image, caption, None if chunks else keyboard, patient)
        for number, chunk in enumerate(chunks, start=1):
            sent = await self._api(
                chat_id,
                lambda chunk=chunk, last=number == len(chunks): self.bot.send_message(
                    chat_id, to_html(chunk), parse_mode=ParseMode.HTML, reply_markup=keyboard if last else None
                ),
                patient=patient,
            )
        if sent is not None:
            self._latest_message[chat_id] = sent.message_id
            if reply.edit_key:
                is_photo = reply.image is not None and not chunks
                self._edit_targets[(chat_id, reply.edit_key)] = (sent.message_id, is_photo)

    def _edit_target(self, chat_id: str, reply: Reply, source_message_id: int | None) -> int | None:
        """The message to edit in place: the one that last carried this
        `edit_key`, if the user pressed a button on it or nothing has been
        written in the chat since; and only like for like (text/photo)."""
        if not reply.edit_key:
            return None
        target = self._edit_targets.get((chat_id, reply.edit_key))
        if target is None:
            return None
        message_id, is_photo = target
        if is_photo != (reply.image is not None):
            return None
        if message_id in (source_message_id, self._latest_message.get(chat_id)):
            return message_id
        return None

    async def _edit(
        self,
        chat_id: str,
        message_id: int,
        image: Image | None,
        text: str,
        keyboard: InlineKeyboardMarkup | None,
        patient: bool,
    ) -> bool:
        """Edit a message in place; False when Telegram refuses (too old,
        deleted), so the caller sends a new one."""
        try:
            if image is None:
                await self._api(
                    chat_id,
                    lambda: self.bot.edit_message_text(
                        to_html(text), chat_id, message_id, parse_mode=ParseMode.HTML, reply_markup=keyboard
                    ),
                    patient=patient,
                )
            else:
                await self._with_photo(
                    chat_id,
                    image,
                    lambda photo: self.bot.edit_message_media(
                        InputMediaPhoto(photo, caption=to_html(text) or None, parse_mode=ParseMode.HTML),
                        chat_id,
                        message_id,
                        reply_markup=keyboard,
                    ),
                    patient,
                    attach=True,
                )
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return True  # the same step again: already on screen
            log.info("telegram: edit refused (%s); sending a new message", error)
            return False
        return True

    async def _send_photo(
        self, chat_id: str, image: Image, caption: str, keyboard: InlineKeyboardMarkup | None, patient: bool
    ) -> Message:
        return await self._with_photo(
            chat_id,
            image,
            lambda photo: self.bot.send_photo(
                chat_id, photo, caption=to_html(caption) or None, parse_mode=ParseMode.HTML, reply_markup=keyboard
            ),
            patient,
        )

    async def _with_photo(
        self,
        chat_id: str,
        image: Image,
        call: Callable[[Any], Awaitable[Message | bool]],
        patient: bool,
        attach: bool = False,
    ) -> Any:
        """Run a photo call with the cached `file_id` for `image.key`, or an
        upload (whose `file_id` is then cached); re-upload if Telegram no
        longer knows the cached one. Uploads inside `InputMedia` go as
        `attach://` parts."""
        file_id = self._file_ids.get(image.key)
        if file_id is not None:
            try:
                return await self._api(chat_id, lambda: call(file_id), patient=patient)
            except BadRequest as error:
                if "file" not in str(error).lower():
                    raise
                del self._file_ids[image.key]
        filename = re.sub(r"[^A-Za-z0-9_-]+", "-", image.key).strip("-") + ".png"
        upload = InputFile(image.png, filename=filename, attach=attach)
        result = await self._api(chat_id, lambda: call(upload), patient=patient)
        if isinstance(result, Message) and result.photo:
            self._file_ids[image.key] = result.photo[-1].file_id
        return result

    async def _api(self, chat_id: str, call: Callable[[], Awaitable[T]], *, patient: bool) -> T:
        """One Bot API call with the platform's error policy (see module doc)."""
        network_failures = rate_waits = 0
        while True:
            try:
                return await call()
            except RetryAfter as error:
                seconds = _retry_seconds(error)
                if not patient or rate_waits >= RATE_LIMIT_RETRIES or seconds > self.max_rate_limit_wait:
                    raise RateLimited(seconds) from error
                rate_waits += 1
                log.info("telegram: rate limited, waiting %.0f s", seconds)
                await asyncio.sleep(seconds)
            except Forbidden as error:
                await self._mark_unreachable(chat_id)
                raise UserUnreachable(str(error)) from error
            except BadRequest as error:
                if "chat not found" in str(error).lower():
                    await self._mark_unreachable(chat_id)
                    raise UserUnreachable(str(error)) from error
                raise
            except NetworkError as error:  # timeouts, connection errors, 5xx
                network_failures += 1
                if network_failures > NETWORK_RETRIES:
                    raise TransientError(str(error)) from error
                await asyncio.sleep(self.retry_delay * 2 ** (network_failures - 1))
            except TelegramError as error:
                raise DeliveryError(str(error)) from error

    async def _mark_unreachable(self, user_id: str) -> None:
        """Record that the user blocked the bot (their next /start clears it,
        in the dispatcher's turn); in private chats the chat id is the user id."""
        if self.storage is None:
            return
        try:
            user = await self.storage.get_user(self.name, user_id)
            if user is not None and not user.unreachable:
                user.unreachable = True
                await self.storage.save_user(user)
        except Exception:
            log.exception("telegram: could not update the user's reachability")

    # --- button payloads -------------------------------------------------
    def _callback_data(self, payload: str) -> str:
        """Telegram's callback_data holds 64 bytes; longer payloads travel
        as a short digest remembered here."""
        if 0 < len(payload.encode()) <= CALLBACK_DATA_LIMIT and not payload.startswith(LONG_PAYLOAD_PREFIX):
            return payload
        digest = LONG_PAYLOAD_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:32]
        self._long_payloads[digest] = payload
        return digest

    def _resolve_payload(self, data: str) -> str | None:
        """The payload behind callback_data; None for a digest forgotten
        since (restart): the button has expired."""
        if data.startswith(LONG_PAYLOAD_PREFIX):
            return self._long_payloads.get(data)
        return data
