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

Errors: 403 marks the user unreachable (`UserUnreachable`), 429 waits
`retry_after` (or raises `RateLimited` from `send`), network errors retry
with backoff (then `TransientError`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardMarkup, InputFile, InputMediaPhoto, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.base import DeliveryError, RateLimited, TransientError, UserUnreachable
from bot.channels.telegram.inbound import NAME
from bot.channels.telegram.recent import Recent
from bot.channels.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, ButtonPayloads, folded, text_and_keyboard, to_html
from bot.channels.text import split_text
from core.messages import Image, Reply
from storage.base import Storage

log = logging.getLogger(__name__)
T = TypeVar("T")

NETWORK_RETRIES = 3
RATE_LIMIT_RETRIES = 3


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
        max_rate_limit_wait: float,
    ) -> None:
        self.bot = bot
        self.storage = storage
        self.payloads = payloads
        self.retry_delay = retry_delay
        self.max_rate_limit_wait = max_rate_limit_wait
        self._edit_targets = Recent(10_000)  # (chat_id, edit_key) -> (message_id, is_photo)
        self._latest_message = Recent(10_000)  # chat_id -> newest message id seen in the chat
        self._file_ids = Recent(4096)  # Image.key -> Telegram file_id

    def note_latest_message(self, chat_id: str, message_id: int) -> None:
        """A message the user wrote: the newest in the chat, so no older one is edited in place."""
        self._latest_message[chat_id] = message_id

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies the bot starts itself; a 429 raises `RateLimited`
        so the caller (broadcast) paces itself."""
        await self._deliver(chat_id, folded(replies), source_message_id=None, patient=False)

    async def answer(
        self,
        chat_id: str,
        replies: Sequence[Reply],
        *,
        source_message_id: int | None,
        webhook_response: asyncio.Future | None,
    ) -> None:
        """A turn's replies to the user, whose message (or pressed button's
        message) was `source_message_id`. `webhook_response`, if given, is
        what the webhook request waits for: the last message goes there
        when it can (see module doc). Failures are logged: nobody waits on them."""
        replies = folded(replies)
        last = self._webhook_answer(chat_id, replies[-1]) if webhook_response is not None and replies else None
        try:
            if last is not None and webhook_response is not None:
                # The other parts first, by the Bot API: Telegram runs the
                # response's call after them, once it has the response.
                await self._deliver(chat_id, replies[:-1], source_message_id=source_message_id, patient=True)
                if not webhook_response.done():
                    webhook_response.set_result(last)
                    self._latest_message.pop(chat_id, None)  # its id is unknown: no edit relies on it
                    return
                replies = replies[-1:]  # the webhook stopped waiting meanwhile
            await self._deliver(chat_id, replies, source_message_id=source_message_id, patient=True)
        except DeliveryError as error:
            log.warning("telegram: reply not delivered: %s", type(error).__name__)

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

    async def _deliver(
        self, chat_id: str, replies: Sequence[Reply], *, source_message_id: int | None, patient: bool
    ) -> None:
        for reply in replies:
            await self._deliver_one(chat_id, reply, source_message_id, patient)

    async def _deliver_one(self, chat_id: str, reply: Reply, source_message_id: int | None, patient: bool) -> None:
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
            if await self._edit(chat_id, edit_target, reply.image, new_text, keyboard, patient):
                return

        sent: Message | None = None
        if reply.image is not None:
            sent = await self._send_photo(chat_id, reply.image, caption, None if chunks else keyboard, patient)
        for number, chunk in enumerate(chunks, start=1):
            is_last = number == len(chunks)
            send = functools.partial(
                self.bot.send_message,
                chat_id,
                to_html(chunk),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard if is_last else None,
            )
            sent = await self._api(chat_id, send, patient=patient)
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
                seconds = retry_seconds(error)
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
            user = await self.storage.get_user(NAME, user_id)
            if user is not None and not user.unreachable:
                user.unreachable = True
                await self.storage.save_user(user)
        except Exception:
            log.exception("telegram: could not update the user's reachability")
