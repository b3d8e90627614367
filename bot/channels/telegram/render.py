"""A `Reply` as Telegram messages: a plain text reply joins the one after it
(`folded`: one message, one notification); text goes out in HTML parse mode,
escaped (`to_html`); buttons become an inline keyboard, and a link a URL
button where Telegram accepts one; button payloads longer than callback_data
holds travel as short digests (`ButtonPayloads`)."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot.channels.recent import Recent
from core.messages import Reply

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
CAPTION_LIMIT = MessageLimit.CAPTION_LENGTH  # 1024
CALLBACK_DATA_LIMIT = 64  # bytes
LONG_PAYLOAD_PREFIX = "~"


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


def text_and_keyboard(reply: Reply, payloads: ButtonPayloads) -> tuple[str, InlineKeyboardMarkup | None]:
    """The reply's text (with its link, when not a button) and inline
    keyboard; ("", None) when there is nothing to send."""
    text, rows = (
        reply.text,
        [
            [
                InlineKeyboardButton(button.title, callback_data=payloads.to_callback_data(button.payload))
                for button in row
            ]
            for row in reply.buttons
        ],
    )
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


def _link_as_button(url: str) -> bool:
    """Telegram rejects URL buttons to local hosts or bare IP addresses;
    those links go in the text instead."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and "." in host and not re.fullmatch(r"[\d.]+", host)


class ButtonPayloads:
    """Telegram's callback_data holds 64 bytes; longer payloads travel as a
    short digest remembered here."""

    def __init__(self, size: int = 10_000) -> None:
        self._long_payloads = Recent(size)  # short callback_data -> payload over 64 bytes

    def to_callback_data(self, payload: str) -> str:
        """The callback_data that carries `payload`."""
        if 0 < len(payload.encode()) <= CALLBACK_DATA_LIMIT and not payload.startswith(LONG_PAYLOAD_PREFIX):
            return payload
        digest = LONG_PAYLOAD_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:32]
        self._long_payloads[digest] = payload
        return digest

    def from_callback_data(self, data: str) -> str | None:
        """The payload behind callback_data; None for a digest forgotten
        since (restart): the button has expired."""
        if data.startswith(LONG_PAYLOAD_PREFIX):
            return self._long_payloads.get(data)
        return data
