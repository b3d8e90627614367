"""Zalo Bot Platform adapter: a Telegram-like Bot API with text and photos
by URL, and no buttons.

- API: `<base>/bot<TOKEN>/<method>`, JSON in, `{ok, result, error_code,
  description}` out. The base URL comes from `ZALO_BOT_BASE_URL` or
  `zalo_bot.base_url`, so tests and demos point it at a loopback fake.
- Receiving: `getUpdates` polling (one update per call; error 408 means
  nothing new), or a webhook registered with `setWebhook` whose requests must
  carry our secret in `X-Bot-Api-Secret-Token` (checked in constant time).
- Buttons become numbered options (`bot.channels.text.plain_text`); the
  dispatcher maps a later "2" or the option's words back to its payload.
- Pictures go out with `sendPhoto` as signed, expiring links to our own media
  route (`bot.media.MediaStore`).
- Receiving goes through the shared `Receiver`: a redelivered update
  (same event name + message id, also the dispatcher's `update_id`) is
  dropped, "typing..." shows only for a slow answer when the send budget
  has room, and a dispatcher failure is answered with an apology.
- Registering the webhook (or removing it, for polling) and polling run
  under `supervise`, retrying with backoff; `health` says how they stand.
- Sending: every message call asks the bot account's pacer
  (`broadcast.rates.zalo_bot`), shared with announcements; a turn's replies
  go through the outbound queue (`bot/outbound/`), written down before the
  webhook request is answered, so a 429 or a crash loses none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels import ChannelContext
from bot.channels.base import Channel, DeliveryError, Handler, RateLimited, TransientError, UserUnreachable
from bot.channels.credentials import hide_in_request_logs, same_secret, webhook_secret_from_token
from bot.channels.health import describe, supervise
from bot.channels.http_api import post_and_read, retry_after
from bot.channels.http_body import BadJson, BodyTooLarge, loads_limited, read_body
from bot.channels.inbox import Inbox
from bot.channels.receive import Receiver
from bot.channels.text import plain_text, split_text
from bot.config import ChannelRate, OutboundSettings, ZaloBotSettings
from bot.media import MediaStore
from bot.outbound.account import account_outbound
from bot.outbound.pacing import URGENT, ChannelPacer
from bot.outbound.queue import NOTICE, settle
from core.messages import Capabilities, Inbound, InboundKind, Reply
from core.secrets import secret
from storage.sql import SqlStorage

log = logging.getLogger(__name__)

NAME = "zalo_bot"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
TEXT_EVENT = "message.text.received"
NOTHING_NEW = 408
MAX_UPDATE_BYTES = 256 * 1024  # updates are a few kB; read no more than this
TOKEN_IN_URL = r"/bot[^/\s]+/"  # Bot API URLs are <base>/bot<TOKEN>/<method>
MAX_RETRY_SECONDS = 60.0
MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto"})  # what the platform's flood limits count


class ZaloBotChannel(Channel):
    name = NAME

    def __init__(
        self,
        token: str,
        settings: ZaloBotSettings,
        media: MediaStore | None,
        base_url: str | None = None,
        webhook_secret: str | None = None,
        *,
        storage: SqlStorage | None = None,
        rate: ChannelRate | None = None,
        outbound: OutboundSettings | None = None,
    ) -> None:
        self._token = token
        hide_in_request_logs(TOKEN_IN_URL, "/bot<ZALO_BOT_TOKEN>/")
        self._settings = settings
        self._media = media
        self._base_url = (base_url or settings.base_url).rstrip("/")
        self._webhook_secret = webhook_secret or webhook_secret_from_token(token, b"troly-zalo-bot-webhook", length=48)
        self.capabilities = Capabilities(buttons=False, max_text_length=settings.max_text_length, image_by="url")
        self._client: httpx.AsyncClient | None = None
        self._handle: Handler | None = None
        self._runner: asyncio.Task | None = None
        self._registered = False  # the webhook set (or removed, for polling)
        self.health.starting()
        # One pacer for every send of this bot account: replies, notices, announcements.
        self.pacer: ChannelPacer
        self.pacer, self.queue = account_outbound(
            NAME,
            self._send_reply,
            storage,
            rate,
            outbound,
        )
        self._receiver = Receiver(NAME, show_typing=self._typing, typing_allowed=self.pacer.has_room)
        self._inbox = Inbox(NAME, storage, outbound, self._replay)

    # --- lifecycle ------------------------------------------------------------
    @property
    def uses_webhook(self) -> bool:
        return bool(self._settings.webhook_url)

    def routes(self) -> list[Route]:
        if not self.uses_webhook:
            return []
        path = urlsplit(self._settings.webhook_url).path or "/"
        return [Route(path, self._webhook, methods=["POST"], name="zalo_bot_webhook")]

    async def start(self, handle: Handler) -> None:
        """Register (the first attempt before returning), then keep trying
        in the background if that failed, and poll; the other channels
        are never held up by Zalo being unreachable."""
        self._handle = handle
        self.health.starting()
        self.queue.start()
        self._inbox.start()
        await self._register()
        self._runner = asyncio.create_task(supervise(NAME, self.health, self._run), name="zalo_bot")

    async def _register(self) -> None:
        """Set the webhook, or remove it for polling (getUpdates is refused while one is set)."""
        action = "set" if self.uses_webhook else "delete"
        try:
            if self.uses_webhook:
                await self._call("setWebhook", url=self._settings.webhook_url, secret_token=self._webhook_secret)
            else:
                await self._call("deleteWebhook")
        except Exception as error:  # an unexpected one with its traceback; retried all the same
            self.health.retrying(f"could not {action} the webhook: {describe(error)}")
            unexpected = not isinstance(error, DeliveryError)
            log.warning("zalo_bot: could not %s the webhook (%s); retrying", action, error, exc_info=unexpected)
            return
        self._registered = True
        self.health.connected()
        log.info("zalo_bot: receiving by %s", "webhook" if self.uses_webhook else "polling")

    async def _run(self) -> None:
        delay = 1.0
        while not self._registered:
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)
            await self._register()
        if not self.uses_webhook:
            await self._poll()

    async def drain(self, timeout: float = 10) -> None:
        """Wait until every update received so far has been answered."""
        await self._receiver.drain(timeout)

    async def stop(self) -> None:
        if self._runner:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        await self.drain()
        await self._inbox.stop()
        await self.queue.stop()
        if self._client:
            await self._client.aclose()
            self._client = None

    # --- receiving ------------------------------------------------------------
    async def _poll(self) -> None:
        backoff = 1.0
        while True:
            try:
                update = await self._call("getUpdates", timeout=str(self._settings.poll_timeout_seconds))
            except _NothingNew:
                backoff = 1.0
                self.health.connected()
                continue
            except DeliveryError as error:
                self.health.retrying(f"getUpdates failed: {describe(error)}")
                log.warning("zalo_bot: getUpdates failed (%s); retrying in %.0f s", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_RETRY_SECONDS)
                continue
            backoff = 1.0
            self.health.connected()
            if isinstance(update, dict):
                # getUpdates hands an update over once: written down while it is handled.
                stored: asyncio.Future = asyncio.get_running_loop().create_future()
                if (inbound := self._process_soon(update, stored)) is not None:
                    self._inbox.keep_soon(inbound.update_id, inbound.chat_id, update, stored)

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not same_secret(given, self._webhook_secret):
            return JSONResponse({"ok": False, "description": "unauthorized"}, status_code=401)
        try:
            body = loads_limited(await read_body(request, MAX_UPDATE_BYTES))
        except BodyTooLarge:
            return JSONResponse({"ok": False, "description": "body too large"}, status_code=413)
        except BadJson:
            return JSONResponse({"ok": False, "description": "body is not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"ok": False, "description": "body is not an object"}, status_code=400)
        # Webhook bodies come wrapped like getUpdates replies ({ok, result}) or bare.
        update = body.get("result", body)
        if isinstance(update, dict):
            stored: asyncio.Future = asyncio.get_running_loop().create_future()
            inbound = self._process_soon(update, stored)
            # Answered once the replies are written down, or else the update.
            chat_id = inbound.chat_id if inbound is not None else None
            await self._inbox.acknowledge(inbound.update_id if inbound else None, chat_id, update, stored)
        return JSONResponse({"ok": True})

    def _process_soon(self, update: dict[str, Any], stored: asyncio.Future | None = None) -> Inbound | None:
        """Handle an update in the background (once), in order within its
        chat, so a slow user never holds up the others; `stored` is settled
        once its replies are written down. The update as an `Inbound`, if
        it is one for the dialogue."""
        inbound = self.to_inbound(update)
        if inbound is None or not self._receiver.submit(
            inbound.chat_id, self._process(inbound, stored), update_key=inbound.update_id
        ):
            settle(stored)
        return inbound

    def _replay(self, update: dict[str, Any]) -> asyncio.Future:
        """A kept update, handled again (`Inbox`)."""
        stored: asyncio.Future = asyncio.get_running_loop().create_future()
        self._process_soon(update, stored)
        return stored

    async def _process(self, inbound: Inbound, stored: asyncio.Future | None = None) -> None:
        try:
            assert self._handle is not None, "start() was not called"
            with self.queue.turn_replies(inbound.chat_id) as written:
                replies = await self._receiver.dispatch(self._handle, inbound)
            await self.queue.deliver(inbound.chat_id, replies, stored=stored, written=written)
        finally:
            settle(stored)

    @staticmethod
    def to_inbound(update: dict[str, Any]) -> Inbound | None:
        """A platform update as an `Inbound`. A sticker or picture becomes an
        empty text, which the dispatcher answers with "please type" in the
        user's language; updates without a message are ignored (None)."""
        message = update.get("message")
        if not isinstance(message, dict):
            return None
        event = str(update.get("event_name") or TEXT_EVENT)
        text = message.get("text") if event == TEXT_EVENT else ""
        user_id, chat_id = _str_id(message.get("from")), _chat_id(update)
        if not isinstance(text, str) or not user_id or not chat_id:
            return None
        message_id = message.get("message_id")
        update_id = f"{event}:{message_id}" if message_id else None
        kind, payload = InboundKind.TEXT, ""
        command, _, rest = text.strip().partition(" ")
        if command.lower() == "/start":
            kind, payload = InboundKind.START, rest.strip()
        return Inbound(
            channel=NAME,
            user_id=user_id,
            chat_id=chat_id,
            kind=kind,
            text=text,
            payload=payload,
            update_id=update_id,
        )

    # --- sending --------------------------------------------------------------
    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """The replies' messages in order. A rate limit before any went is
        raised (the caller retries them all); once one went, the rest wait
        their turn here, since the caller's retry would send it again."""
        limit = self.capabilities.max_text_length
        started = False
        for reply in replies:
            text = plain_text(reply)
            if reply.image is not None:
                if self._media is None:
                    text = "\n".join(filter(None, [reply.image.alt, text]))
                else:
                    photo = self._media.url_for(reply.image)
                    caption_fits = 0 < len(text) <= limit
                    caption = text if caption_fits else reply.image.alt
                    await self._message("sendPhoto", started, chat_id=chat_id, photo=photo, caption=caption)
                    started = True
                    if caption_fits:
                        continue
            if text:
                for chunk in split_text(text, limit):
                    await self._message("sendMessage", started, chat_id=chat_id, text=chunk)
                    started = True

    async def _message(self, method: str, wait_when_limited: bool, **params: Any) -> None:
        while True:
            try:
                await self._call(method, **params)
                return
            except RateLimited:  # `_call` paused the pacer: the next try waits for it
                if not wait_when_limited:
                    raise

    async def deliver(self, chat_id: str, replies: Sequence[Reply]) -> None:
        await self.queue.deliver(chat_id, replies, priority=NOTICE)

    async def _send_reply(self, chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        """One reply of a turn, for the outbound queue."""
        await self.send(chat_id, [reply])

    async def _typing(self, chat_id: str) -> None:
        await self._call("sendChatAction", chat_id=chat_id, action="typing")

    # --- the API --------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = self._settings.request_timeout_seconds + self._settings.poll_timeout_seconds
            self._client = httpx.AsyncClient(timeout=timeout)
        return self._client

    async def _call(self, method: str, **params: Any) -> Any:
        """Call a Bot API method; its `result`, or a `DeliveryError` saying
        what the caller should do. The token never appears in errors."""
        url = f"{self._base_url}/bot{self._token}/{method}"
        if method in MESSAGE_METHODS:
            ticket = await self.pacer.acquire(str(params.get("chat_id", "")), urgent=URGENT.get())
            try:
                response, body = await post_and_read(self._http(), url, method, json=params)
            finally:
                self.pacer.finished(ticket)
        else:
            response, body = await post_and_read(self._http(), url, method, json=params)
        if response.is_success and body.get("ok"):
            return body.get("result")
        code = body.get("error_code") or response.status_code
        description = str(body.get("description") or response.reason_phrase)
        if code == NOTHING_NEW:
            raise _NothingNew()
        if code == 429:
            self.pacer.pause(retry_after(response))
            raise RateLimited(retry_after(response), f"{method}: {description}")
        if code in (403, 404):
            raise UserUnreachable(f"{method}: {description}")
        if code >= 500:
            raise TransientError(f"{method}: {code} {description}")
        raise DeliveryError(f"{method}: {code} {description}")


class _NothingNew(DeliveryError):
    """getUpdates timed out with no update: poll again."""


def _str_id(holder: Any) -> str:
    value = holder.get("id") if isinstance(holder, dict) else None
    return str(value) if value not in (None, "") else ""


def _chat_id(update: dict[str, Any]) -> str:
    message = update.get("message")
    if not isinstance(message, dict):
        return ""
    return _str_id(message.get("chat")) or _str_id(message.get("from"))


def from_settings(context: ChannelContext) -> ZaloBotChannel | None:
    """The Zalo Bot channel when ZALO_BOT_TOKEN is set, else None."""
    token = secret("ZALO_BOT_TOKEN")
    if not token:
        return None
    media = context.media
    if media is not None and not media.public_base_url.startswith("https://"):
        log.warning(
            "zalo_bot: pictures are sent as links to %s, which Zalo cannot fetch; "
            "set web.public_base_url to the bot's public HTTPS address",
            media.public_base_url,
        )
    return ZaloBotChannel(
        token=token,
        settings=context.settings.zalo_bot,
        media=context.media,
        base_url=secret("ZALO_BOT_BASE_URL"),
        webhook_secret=secret("ZALO_BOT_WEBHOOK_SECRET"),
        storage=context.storage,
        rate=context.settings.broadcast.rate_for(NAME),
        outbound=context.settings.outbound,
    )
