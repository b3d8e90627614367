"""The channel-neutral message model: the only vocabulary flows speak.

A channel adapter turns a platform update into an `Inbound`, hands it to the
dispatcher, and renders the `Reply` list it gets back within its
`Capabilities` (see `bot/channels/base.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal


class InboundKind(StrEnum):
    TEXT = "text"  # free text typed by the user
    BUTTON = "button"  # a button press; `payload` holds the button's payload
    START = "start"  # a (deep-link) start; `payload` holds the start payload, maybe ""
    CONTACT = "contact"  # a shared contact card; `text` holds the phone number


@dataclass(frozen=True)
class Inbound:
    channel: str  # "web", "console", "telegram", "zalo_bot", "zalo_oa"
    user_id: str  # opaque, unique within the channel
    chat_id: str  # where replies go; equals user_id in private chats
    kind: InboundKind = InboundKind.TEXT
    text: str = ""
    payload: str = ""
    locale: str | None = None  # the platform's language hint ("vi", "en-US"...)
    update_id: str | None = None  # the platform's id, for the duplicate guard
    # In group chats, the text of the message this one replies to (officers
    # answering a handed-off question); "" otherwise.
    reply_to_text: str = ""
    # The platform shows that the user gets our messages again (a Telegram
    # /start after blocking the bot): the turn clears `User.unreachable`.
    reachable_again: bool = False
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Button:
    title: str
    payload: str
    # Shows the main menu: a channel with a persistent Menu control (the web
    # chat) leaves it out of the message.
    opens_menu: bool = False


@dataclass(frozen=True)
class Image:
    png: bytes
    alt: str
    # A stable name for the picture ("guide/step-3", "qr/<code>"): lets a
    # channel reuse an upload (Telegram file_id) or a media URL.
    key: str


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Reply:
    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of buttons
    image: Image | None = None
    link: Link | None = None
    # Replies sharing an `edit_key` replace each other where the channel can
    # edit messages (the guide's Back/Next), instead of flooding the chat.
    edit_key: str | None = None
    # What the message is, for channels that present kinds differently:
    # "menu" (the main menu), "announcement" (a broadcast), "" (a reply).
    kind: Literal["", "menu", "announcement"] = ""

    @property
    def all_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]


@dataclass(frozen=True)
class Capabilities:
    buttons: bool
    max_text_length: int
    image_by: Literal["upload", "url"]
    deep_link_start: bool = False
    edit_messages: bool = False
