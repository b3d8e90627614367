"""Where the web chat edits a message in place: only when it is still the
newest message on the citizen's page (the guide's Next and Back turn its
page). Anything shown since (the citizen's own message, another answer, a
notice) sends the new content to the bottom instead, where they look: an
edit far up the history is an answer nobody sees.

The page replaces the message carrying the same `edit_key` as a new reply.
So each message the page may edit is given a key of its own (the flow's
`edit_key` plus a random suffix): a reply that edits in place reuses the
newest message's key, one that goes to the bottom gets a fresh key, which
no older message on the page carries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bot.channels.recent import Recent
from core.messages import Inbound, InboundKind, Reply

CHATS_REMEMBERED = 10_000


@dataclass(frozen=True)
class _Newest:
    """The newest message on a page, when it is one the bot may edit."""

    page_key: str  # what the page knows it by
    edit_key: str  # the flow's key (replies with the same one replace it)
    quiet_payloads: frozenset[str]  # its buttons: the page does not echo their presses


class Screens:
    """What is at the bottom of each citizen's page, as far as this process saw."""

    def __init__(self, size: int = CHATS_REMEMBERED) -> None:
        self._newest: Recent = Recent(size)

    def received(self, inbound: Inbound) -> None:
        """The citizen wrote: their message is now the newest on the page,
        except for a press of the newest message's own buttons (the page
        does not echo those; that message stays at the bottom). A start is
        a page (re)loaded: nothing of the old page is on screen."""
        newest = self._newest.get(inbound.chat_id)
        pressed_below = (
            inbound.kind is InboundKind.BUTTON and newest is not None and inbound.payload in newest.quiet_payloads
        )
        if not pressed_below:
            self._newest.pop(inbound.chat_id, None)

    def place(self, chat_id: str, reply: Reply) -> str | None:
        """The key the page shows `reply` under: the newest message's key
        when the reply edits it in place, a fresh key when it goes to the
        bottom, None for a reply nothing edits later. The reply is then the
        newest message."""
        newest = self._newest.pop(chat_id, None)
        if reply.edit_key is None:
            return None
        if newest is not None and newest.edit_key == reply.edit_key:
            page_key = newest.page_key
        else:
            page_key = f"{reply.edit_key}-{secrets.token_hex(6)}"
        payloads = frozenset(button.payload for button in reply.all_buttons)
        self._newest[chat_id] = _Newest(page_key, reply.edit_key, payloads)
        return page_key
