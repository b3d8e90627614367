"""The Telegram channel: connecting (bot commands, then long polling with
`getUpdates`, or a webhook served by our own ASGI app, python-telegram-bot's
custom-webhook pattern) and receiving. Connecting and polling run under
`supervise`: an unexpected failure is logged and retried, and `health` says
how the connection stands. Updates go through the shared `Receiver` (once
each, in order within a chat, "typing..." while a slow answer is prepared,
the apology if the dispatcher fails); a button press is answered at once so
its spinner stops; the replies go to `Delivery`. With
`telegram.webhook_reply_seconds` > 0 a webhook request waits for its turn,
whose last message may ride in the response (see `delivery`). A duplicated
update is dropped here as well as in the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, BotCommand, Update
from telegram.error import BadRequest, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from bot.channels import ChannelContext
from bot.channels.base import Channel, Handler
from bot.channels.credentials import same_secret, webhook_secret_from_token
from bot.channels.health import describe, supervise
from bot.channels.http_body import BodyTooLarge, loads_limited, read_body
from bot.channels.inbox import Inbox
from bot.channels.receive import Receiver, TypingPolicy
from bot.channels.telegram.delivery import Delivery, WebhookAnswer, retry_seconds
from bot.channels.telegram.inbound import NAME, to_inbound
from bot.channels.telegram.logs import hide_token_in_logs
from bot.channels.telegram.render import TEXT_LIMIT, ButtonPayloads
from bot.config import ChannelRate, OutboundSettings, TelegramSettings
from bot.outbound.pacing import ChannelPacer
from bot.outbound.queue import settle
from core.messages import Capabilities, Reply
from core.secrets import secret
from storage.base import Storage

log = logging.getLogger(__name__)
# Reading updates one by one needs getUpdates' raw answer, which only `do_api_request` gives.
warnings.filterwarnings("ignore", message="Please use 'Bot.getUpdates'", category=PTBUserWarning)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
ACK_WAIT_SECONDS = 1.0  # polling: the longest wait for an update in progress before asking again
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing..." for about 5 s
MAX_RETRY_SECONDS = 60.0
MAX_UPDATE_BYTES = 1_000_000  # updates are a few kB; anything bigger is not from Telegram
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
        rate=context.settings.broadcast.rate_for(NAME),
        outbound=context.settings.outbound,
    )


def derived_webhook_secret(token: str) -> str:
    """A stable webhook secret when none is configured: only someone who
    knows the bot token can compute it (allowed characters: hex)."""
    return webhook_secret_from_token(token, b"troly telegram webhook")


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
        rate: ChannelRate | None = None,
        outbound: OutboundSettings | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.retry_delay = retry_delay
        self.webhook_secret = webhook_secret or derived_webhook_secret(token)
        hide_token_in_logs(token)
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
        self.health.starting()
        self._unacknowledged: set[int] = set()  # received updates whose replies are not written down yet
        self._progress = asyncio.Event()
        self._payloads = ButtonPayloads()
        self._delivery = Delivery(
            self.bot,
            storage,
            self._payloads,
            retry_delay=retry_delay,
            rate=rate,
            outbound=outbound,
        )
        # One pacer for every send of this bot account: replies, notices, announcements.
        self.pacer: ChannelPacer = self._delivery.pacer
        self._inbox = Inbox(NAME, storage, outbound, self._replay)
        self._receiver = Receiver(
            NAME,
            show_typing=lambda chat_id: self.bot.send_chat_action(chat_id, "typing"),
            typing=TypingPolicy(settings.typing_delay_seconds, settings.typing_max_busy, TYPING_REFRESH_SECONDS),
            typing_allowed=self.pacer.has_room,
        )

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
        self.health.starting()
        self._delivery.queue.start()
        self._inbox.start()
        work = supervise(NAME, self.health, self._run, first_delay=self.retry_delay, max_delay=MAX_RETRY_SECONDS)
        self._runner = asyncio.create_task(work, name="telegram")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        await self.drain(timeout=10)
        await self._inbox.stop()
        await self._delivery.queue.stop()
        if self._acknowledge_up_to() is not None:  # confirm the last batch, so a restart does not replay it
            try:
                await self.bot.get_updates(offset=self._acknowledge_up_to(), limit=1, timeout=0)
            except TelegramError:
                log.warning("telegram: could not confirm the last updates")
        await self.bot.shutdown()
        self.ready.clear()

    @property
    def idle(self) -> bool:
        """True when no received update is still being answered."""
        return self._receiver.idle

    async def drain(self, timeout: float = 10) -> None:
        """Wait (up to `timeout` seconds) until every received update has been answered."""
        await self._receiver.drain(timeout)

    async def _run(self) -> None:
        """Connect, then poll (or wait for webhooks); returns when Telegram is off."""
        if not await self._connect():
            return
        self.health.connected()
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
                await asyncio.sleep(retry_seconds(error))
            except TelegramError as error:
                self.health.retrying(f"cannot connect: {describe(error)}")
                log.warning("telegram: cannot connect yet (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)

    def _disable(self, reason: str) -> None:
        self.disabled_reason = reason
        self.health.off(reason)
        self.ready.clear()
        log.error("telegram: %s; Telegram is off", reason)

    async def _set_commands(self) -> None:
        commands = self.settings.commands
        for language in ("vi", "en"):
            menu = [BotCommand(item.command, getattr(item, language)) for item in commands]
            await self.bot.set_my_commands(menu, language_code=language)
        await self.bot.set_my_commands([BotCommand(item.command, item.vi) for item in commands])

    async def _poll(self) -> None:
        """Long polling. The offset asked for acknowledges updates to
        Telegram, so it moves past an update only once its replies are
        written down (`_unacknowledged`): a worker killed mid-burst gets
        the rest again on restart."""
        delay = self.retry_delay
        while True:
            try:
                updates = await self._updates()
            except InvalidToken:
                self._disable("the Bot API rejected TELEGRAM_BOT_TOKEN")
                return
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
                continue
            except TelegramError as error:  # network trouble, or another instance polling (Conflict)
                self.health.retrying(f"getUpdates failed: {describe(error)}")
                log.warning("telegram: getUpdates failed (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            delay = self.retry_delay
            self.health.connected()
            # Asking from the oldest unacknowledged update brings back those
            # after it that are already answered: only new ones are submitted.
            fresh = [
                update
                for update in updates
                if update.update_id not in self._unacknowledged and not self._receiver.seen(update.update_id)
            ]
            for update in fresh:
                self._offset = max(self._offset or 0, update.update_id + 1)
                self.submit(update, stored=self._acknowledgement(update.update_id))
            if not fresh and self._unacknowledged:
                # Only updates still being answered came back: wait for progress, not in a busy loop.
                self._progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), ACK_WAIT_SECONDS)

    def _acknowledge_up_to(self) -> int | None:
        """The getUpdates offset: the oldest update whose replies are not
        written down yet, else past the newest received."""
        return min(self._unacknowledged) if self._unacknowledged else self._offset

    def _acknowledgement(self, update_id: int) -> asyncio.Future:
        """A future the update's turn settles once its replies are written down."""
        stored: asyncio.Future = asyncio.get_running_loop().create_future()
        self._unacknowledged.add(update_id)

        def acknowledged(_: asyncio.Future) -> None:
            self._unacknowledged.discard(update_id)
            self._progress.set()

        stored.add_done_callback(acknowledged)
        return stored

    async def _updates(self) -> Sequence[Update]:
        """The next updates by long polling. One python-telegram-bot cannot
        read (a third-party Bot API's malformed user) would fail the batch
        again at every attempt: then they are read one by one, and the
        unreadable ones skipped, so the channel never stalls on them."""
        try:
            return await self.bot.get_updates(
                offset=self._acknowledge_up_to(),
                timeout=self.settings.polling_timeout_seconds,
                allowed_updates=ALLOWED_UPDATES,
            )
        except TelegramError:
            raise
        except Exception as error:
            log.error("telegram: an update could not be read (%s); reading them one by one", describe(error))
        batch = await self.bot.do_api_request(
            "getUpdates",
            api_kwargs={"offset": self._acknowledge_up_to(), "timeout": 0, "allowed_updates": ALLOWED_UPDATES},
        )
        updates = []
        for data in batch if isinstance(batch, list) else []:
            try:
                updates.append(Update.de_json(data, self.bot))
            except Exception as error:
                log.warning("telegram: skipped an update it cannot read (%s)", type(error).__name__)
                if isinstance(data, dict) and isinstance(data.get("update_id"), int):
                    self._offset = data["update_id"] + 1
        return updates

    # --- receiving -------------------------------------------------------
    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not same_secret(given, self.webhook_secret):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if self._handle is None:
            return JSONResponse({"error": "not ready"}, status_code=503)  # Telegram retries later
        try:
            body = await read_body(request, MAX_UPDATE_BYTES)
        except BodyTooLarge:
            return JSONResponse({"error": "too large"}, status_code=413)
        try:
            data = loads_limited(body)
            update = Update.de_json(data, self.bot)
        except Exception:  # not JSON, or not an update
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        wait = self.settings.webhook_reply_seconds
        if wait <= 0:
            self.submit(update)
            return Response(status_code=200)
        loop = asyncio.get_running_loop()
        answer, stored = loop.create_future(), loop.create_future()
        self.submit(update, answer, stored=stored)
        try:
            await self._wait_for_turn(answer, wait)
        except TimeoutError:
            pass
        finally:
            settle(answer)  # too late: the turn sends its reply by the Bot API
        # What the turn handed over is sent even if it landed as the wait timed
        # out (`wait_for` then raises all the same): the turn counts on it.
        handed: WebhookAnswer | None = answer.result()
        if handed is None:
            chat = update.effective_chat
            # Answered once the replies are written down, or else the update (`Inbox`).
            await self._inbox.acknowledge(str(update.update_id), str(chat.id) if chat else None, data, stored)
            return Response(status_code=200)
        done = BackgroundTask(handed.after_sending) if handed.after_sending is not None else None
        return JSONResponse(handed.method, background=done)

    def _replay(self, data: dict[str, Any]) -> asyncio.Future | None:
        """A kept update, handled again (`Inbox`): its replies go by the Bot API."""
        try:
            update = Update.de_json(data, self.bot)
        except Exception:
            return None
        stored: asyncio.Future = asyncio.get_running_loop().create_future()
        self.submit(update, stored=stored)
        return stored

    @staticmethod
    async def _wait_for_turn(answer: asyncio.Future, seconds: float) -> None:
        await asyncio.wait_for(asyncio.shield(answer), seconds)

    def submit(
        self, update: Update, answer: asyncio.Future | None = None, *, stored: asyncio.Future | None = None
    ) -> None:
        """Queue an update for processing: once per update id, in order
        within its chat, concurrently across chats. `answer`, if given,
        receives the reply to send in the webhook response, or None when
        none will ride; `stored` is settled once the replies are written
        down, where another worker would send them should this one die."""
        chat = update.effective_chat
        key = str(chat.id) if chat else f"update:{update.update_id}"
        work = self._process_settled(update, answer, stored)
        if not self._receiver.submit(key, work, update_key=update.update_id):
            settle(answer)
            settle(stored)

    async def _process_settled(
        self, update: Update, answer: asyncio.Future | None = None, stored: asyncio.Future | None = None
    ) -> None:
        try:
            await self._process(update, answer, stored)
        finally:
            settle(answer)
            settle(stored)

    async def _process(
        self, update: Update, answer: asyncio.Future | None = None, stored: asyncio.Future | None = None
    ) -> None:
        query = update.callback_query
        inbound = to_inbound(update, self._payloads.from_callback_data)
        if query is not None:  # stop the button's spinner first
            expired = inbound is None and query.message is not None
            await self._quietly(query.answer(text=EXPIRED_BUTTON if expired else None))
        elif update.message is not None:
            self._delivery.note_latest_message(str(update.message.chat.id), update.message.message_id)
        if inbound is None or self._handle is None:
            return
        source = query.message.message_id if query is not None and query.message is not None else None
        with self._delivery.turn_replies(inbound.chat_id, source, answer) as written:
            replies = await self._receiver.dispatch(self._handle, inbound)
        await self._delivery.answer(
            inbound.chat_id, replies, source_message_id=source, webhook_response=answer, stored=stored, written=written
        )

    async def _quietly(self, call: Awaitable[Any]) -> None:
        """Best-effort calls (answering a button): never fail a reply."""
        try:
            await call
        except TelegramError as error:
            log.debug("telegram: best-effort call failed: %s", error)

    # --- sending ---------------------------------------------------------
    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies the bot starts itself; a 429 raises `RateLimited`
        so the caller (broadcast) paces itself."""
        await self._delivery.send(chat_id, replies)

    async def deliver(self, chat_id: str, replies: Sequence[Reply]) -> None:
        await self._delivery.notify(chat_id, replies)
