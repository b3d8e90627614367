"""A Telegram update as our message model (`Inbound`): `/start <payload>` is
a deep-link start, a button press carries its payload, a command addressed to
the bot in a group ("/help@troly_bot") loses the bot's name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from telegram import Update

from core.messages import Inbound, InboundKind

NAME = "telegram"
START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
    common: dict[str, Any] = {
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
