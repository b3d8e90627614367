"""Sending replies to Telegram, and what sending remembers.

Each message is text with an inline keyboard, a photo (uploaded once, then
re-sent by `file_id`), or an edit of the message that carried the same
`edit_key` when that message is still the one the user is looking at. Text
is split at 4,096 characters (1,024 for a caption).

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

Every Bot API message call asks the account's pacer first (urgent unless
a broadcast sends), so replies, notices and announcements share Telegram's
limits; a reply that rides in a webhook response takes a slot only if one
is free at once, else it goes by the outbound queue (`bot/outbound/`),
which writes each turn's replies down before the update is acknowledged:
a riding row when the last one can ride, left to Telegram's redelivery of
the update rather than to a lease (`storage/outbound.py`).

Errors: 403 marks the user unreachable (`UserUnreachable`), 429 pauses the
pacer and raises `RateLimited` (the queue tries again in its turn), network
errors retry with backoff (then `TransientError`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardMarkup, InputFile, InputMediaPhoto, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.base import DeliveryError, RateLimited, TransientError, UserUnreachable
from bot.channels.recent import Recent
from bot.channels.telegram.inbound import NAME
from bot.channels.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, ButtonPayloads, folded, text_and_keyboard, to_html
from bot.channels.text import split_text
from bot.config import ChannelRate, OutboundSettings
from bot.outbound.account import account_outbound
from bot.outbound.pacing import URGENT
from bot.outbound.queue import NOTICE, settle
from bot.outbound.turn_replies import TurnReplies
from core.messages import Image, Reply
from storage.base import Storage

log = logging.getLogger(__name__)
T = TypeVar("T")

NETWORK_RETRIES = 3


@dataclass(frozen=True)
class WebhookAnswer:
    """The Bot API call a webhook response carries, and what to do once the
    response went: the turn's riding row is done. A worker dying before
    that leaves the row riding, and Telegram, having no response, delivers
    the update again: that copy hands the row to the queue's leases
    (`TurnReplies.redelivered`)."""

    method: dict[str, Any]
    after_sending: Callable[[], Awaitable[None]] | None = None


def _meta(source_message_id: int | None) -> dict[str, Any]:
    return {} if source_message_id is None else {"source": source_message_id}


def retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked us to wait."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Delivery:
    """Sends replies to Telegram chats with the platform's error policy, and
    remembers what later messages need: the message that carries each
    `edit_key`, the newest message in each chat, the `file_id` of each
    picture."""

    def __init__(
        self,
        bot: Bot,
        storage: Storage | None,
        payloads: ButtonPayloads,
        *,
        retry_delay: float,
        rate: ChannelRate | None,
        outbound: OutboundSettings | None,
    ) -> None:
        self.bot = bot
        self.storage = storage
        self.payloads = payloads
        self.retry_delay = retry_delay
        self.pacer, self.queue = account_outbound(NAME, self.deliver_reply, storage, rate, outbound)
        self._edit_targets = Recent(10_000)  # (chat_id, edit_key) -> (message_id, is_photo)
        self._latest_message = Recent(10_000)  # chat_id -> newest message id seen in the chat
        self._file_ids = Recent(4096)  # Image.key -> Telegram file_id

    def note_latest_message(self, chat_id: str, message_id: int) -> None:
        """A message the user wrote: the newest in the chat, so no older one is edited in place."""
        self._latest_message[chat_id] = message_id

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies the bot starts itself; a 429 raises `RateLimited`
        so the caller (broadcast) paces itself."""
        for reply in folded(replies):
            await self._deliver_one(chat_id, reply, None)

    def turn_replies(
        self, chat_id: str, source_message_id: int | None, webhook_response: asyncio.Future | None = None
    ) -> AbstractContextManager[TurnReplies]:
        """Around the dispatcher's call: the turn's replies (folded as sent)
        are written down with the turn, riding when their last one can go
        in the `webhook_response` still awaited."""

        def rider(replies: Sequence[Reply]) -> dict[str, Any] | None:
            waiting = webhook_response is not None and not webhook_response.done()
            return self._webhook_answer(chat_id, replies[-1]) if waiting else None

        return self.queue.turn_replies(
            chat_id, _meta(source_message_id), folded, rider if webhook_response is not None else None
        )

    async def answer(
        self,
        chat_id: str,
        replies: Sequence[Reply],
        *,
        source_message_id: int | None,
        webhook_response: asyncio.Future | None,
        stored: asyncio.Future | None = None,
        written: TurnReplies | None = None,
    ) -> None:
        """A turn's replies to the user, whose message (or pressed button's
        message) was `source_message_id`, written down with the turn
        (`written`) or here. `webhook_response`, if given, is what the
        webhook request waits for: a reply's last message goes there when
        the pacer has a slot for it now (see module doc); the others first,
        by the Bot API. Otherwise the queue settles `stored` (the update may
        be acknowledged) and sends them."""
        if written is not None:
            await self.queue.release_riding(written)
        if written is not None and written.queued is not None:
            replies = written.replies
        else:
            replies, written = folded(replies), None
        meta = _meta(source_message_id)
        if written is not None:
            method = written.ride if written.riding else None
        else:
            method = self._webhook_answer(chat_id, replies[-1]) if webhook_response is not None and replies else None
        if method is not None and webhook_response is not None:
            # The other parts first: Telegram runs the response's call after
            # them, once it has the response.
            if written is not None:
                others_sent = await self.queue.send_all_but_last(written)
            else:
                others_sent = len(replies) == 1 or await self.queue.deliver(chat_id, replies[:-1], meta)
                replies = replies[-1:]
            slot = others_sent and not webhook_response.done() and await self.pacer.try_acquire(chat_id) is not None
            if slot and not webhook_response.done():  # the webhook may have stopped waiting meanwhile
                rode = functools.partial(self.queue.rode, written) if written is not None else None
                webhook_response.set_result(WebhookAnswer(method, rode))
                self._latest_message.pop(chat_id, None)  # its id is unknown: no edit relies on it
                settle(stored)
                return
            if written is not None:  # the row waits its turn, or goes on by the Bot API
                settle(webhook_response)
                if others_sent:
                    await self.queue.send_rest(written, stored)
                settle(stored)
                return
        settle(webhook_response)
        await self.queue.deliver(chat_id, replies, meta, stored=stored, written=written)

    async def notify(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """A notice the bot starts itself, through the queue (see `Channel.deliver`)."""
        await self.queue.deliver(chat_id, folded(replies), priority=NOTICE)

    async def deliver_reply(self, chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        """One reply of a turn, for the queue."""
        await self._deliver_one(chat_id, reply, meta.get("source"))

    def _webhook_answer(self, chat_id: str, reply: Reply) -> dict[str, Any] | None:
        """The Bot API call for a webhook response, if the reply is one
        plain text message nobody will edit later; else None."""
        if reply.image is not None or reply.edit_key:
            return None
        text, keyboard = text_and_keyboard(reply, self.payloads)
        if not text.strip() or len(text) > TEXT_LIMIT:
            return None
        method: dict[str, Any] = {
            "method": "sendMessage",
            "chat_id": chat_id,
            "text": to_html(text),
            "parse_mode": ParseMode.HTML,
        }
        if keyboard is not None:
            method["reply_markup"] = keyboard.to_dict()
        return method

    async def _deliver_one(self, chat_id: str, reply: Reply, source_message_id: int | None) -> None:
        text, keyboard = text_and_keyboard(reply, self.payloads)
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
            if await self._edit(chat_id, edit_target, reply.image, new_text, keyboard):
                return

        sent: Message | None = None
        if reply.image is not None:
            sent = await self._send_photo(chat_id, reply.image, caption, None if chunks else keyboard)
        for number, chunk in enumerate(chunks, start=1):
            is_last = number == len(chunks)
            send = functools.partial(
                self.bot.send_message,
                chat_id,
                to_html(chunk),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard if is_last else None,
            )
            sent = await self._api(chat_id, send, wait_when_limited=sent is not None)
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
                    attach=True,
                )
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return True  # the same step again: already on screen
            log.info("telegram: edit refused (%s); sending a new message", error)
            return False
        return True

    async def _send_photo(
        self, chat_id: str, image: Image, caption: str, keyboard: InlineKeyboardMarkup | None
    ) -> Message:
        return await self._with_photo(
            chat_id,
            image,
            lambda photo: self.bot.send_photo(
                chat_id, photo, caption=to_html(caption) or None, parse_mode=ParseMode.HTML, reply_markup=keyboard
            ),
        )

    async def _with_photo(
        self,
        chat_id: str,
        image: Image,
        call: Callable[[Any], Awaitable[Message | bool]],
        attach: bool = False,
    ) -> Any:
        """Run a photo call with the cached `file_id` for `image.key`, or an
        upload (whose `file_id` is then cached); re-upload if Telegram no
        longer knows the cached one. Uploads inside `InputMedia` go as
        `attach://` parts."""
        file_id = self._file_ids.get(image.key)
        if file_id is not None:
            try:
                return await self._api(chat_id, lambda: call(file_id))
            except BadRequest as error:
                if "file" not in str(error).lower():
                    raise
                del self._file_ids[image.key]
        filename = re.sub(r"[^A-Za-z0-9_-]+", "-", image.key).strip("-") + ".png"
        upload = InputFile(image.png, filename=filename, attach=attach)
        result = await self._api(chat_id, lambda: call(upload))
        if isinstance(result, Message) and result.photo:
            self._file_ids[image.key] = result.photo[-1].file_id
        return result

    async def _api(self, chat_id: str, call: Callable[[], Awaitable[T]], *, wait_when_limited: bool = False) -> T:
        """One Bot API message call, paced, with the platform's error policy
        (see module doc). `wait_when_limited`: an earlier message of the same
        reply went, so a 429 waits its turn here; raised, the caller's retry
        would send that earlier message again."""
        network_failures = 0
        while True:
            ticket = await self.pacer.acquire(chat_id, urgent=URGENT.get())
            try:
                return await call()
            except RetryAfter as error:
                seconds = retry_seconds(error)
                self.pacer.pause(seconds)
                log.info("telegram: rate limited, pausing %.0f s", seconds)
                if wait_when_limited:
                    continue
                raise RateLimited(seconds) from error
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
            except TelegramError as error:
                raise DeliveryError(str(error)) from error
            finally:
                self.pacer.finished(ticket)
            await asyncio.sleep(self.retry_delay * 2 ** (network_failures - 1))

    async def _mark_unreachable(self, user_id: str) -> None:
        """Record that the user blocked the bot (their next /start clears it,
        in the dispatcher's turn); in private chats the chat id is the user id."""
        if self.storage is None:
            return
        try:
            user = await self.storage.get_user(NAME, user_id)
            if user is not None and not user.unreachable:
                user.unreachable = True
                await self.storage.save_user(user)
        except Exception:
            log.exception("telegram: could not update the user's reachability")
