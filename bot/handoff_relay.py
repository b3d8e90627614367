"""Officer handoff: a citizen's question goes to the officers' Telegram
group, an officer's reply there comes back to the citizen on their own
channel, and `/done` hands the citizen back to the bot.

- `open_ticket` (called by the handoff flow) stores a ticket (question with
  personal numbers masked), posts it to the group tagged
  "Phiếu #<id> (mã <ref>)", and says whether officers are in now or when
  they will be.
- `handle` is a dispatcher interceptor. In the officers' group it claims
  every message: a reply to a ticket's message is relayed to the citizen
  (`Channel.send`), `/done` as such a reply closes the ticket. The replied-to
  message must carry the ticket's own tag, id and random ref: ids are never
  reused, and a message of another (erased, older) ticket, or a hand-typed
  "Phiếu #N", relays nothing. From a citizen with an open ticket, plain
  text is passed on to the group.

Officers' own words are Vietnamese only: the group is the province's staff.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.channels.base import Channel, DeliveryError
from bot.config import HandoffSettings
from core.messages import Button, Inbound, InboundKind, Reply
from core.redaction import mask_numbers
from flows.safety import looks_like_secret
from storage.base import User, user_actor
from storage.handoff_tickets import Ticket, TicketStore
from storage.sql import SqlStorage

log = logging.getLogger(__name__)

GROUP_CHANNEL = "telegram"
MAX_RELAYED = 1000  # characters of a citizen's follow-up passed on
_TICKET_TAG = re.compile(r"Phiếu #(\d+)(?: \(mã ([0-9a-f]{8})\))?")
_WEEKDAYS = {
    "vi": ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

# What officers see in their group.
NEW_TICKET = (
    "🙋 {tag} · kênh {channel} · ngôn ngữ {language} · tỉnh {province}\n"
    "Câu hỏi: {question}\n\n"
    "Trả lời (reply) tin này để nhắn cho công dân; reply /done để kết thúc."
)
FOLLOW_UP = "💬 {tag} · công dân nhắn thêm: {text}"
RELAYED = "✅ Đã chuyển câu trả lời tới công dân (phiếu #{ticket})."
NOT_DELIVERED = "⚠️ Không gửi được tới công dân (phiếu #{ticket}); họ có thể đã chặn trợ lý."
CLOSED = "✅ Phiếu #{ticket} đã kết thúc; công dân quay lại trợ lý tự động."
ALREADY_CLOSED = "Phiếu #{ticket} đã kết thúc, tin này không được chuyển."
NOT_THIS_TICKET = "Tin được trả lời không phải tin của phiếu #{ticket} đang mở: câu trả lời không được chuyển."
CITIZEN_LEFT = "ℹ️ Phiếu #{ticket}: công dân đã quay lại trợ lý tự động."
HOW_TO_REPLY = 'Hãy trả lời (reply) đúng tin của phiếu ("Phiếu #...") để nhắn cho công dân hoặc dùng /done.'


def next_opening(settings: HandoffSettings, now: datetime) -> datetime | None:
    """None while officers are at work; otherwise when they next start."""
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    opens, closes = (time.fromisoformat(settings.opens), time.fromisoformat(settings.closes))
    if local.isoweekday() in settings.office_days and opens <= local.time() < closes:
        return None
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        start = datetime.combine(day, opens, tzinfo=zone)
        if day.isoweekday() in settings.office_days and start > local:
            return start
    raise ValueError("no office days configured")  # config validation prevents this


def describe_time(moment: datetime, lang: str) -> str:
    """`7:30 thứ Hai 24/11` / `7:30 on Monday 24/11`, for a phone screen."""
    weekday = _WEEKDAYS.get(lang, _WEEKDAYS["vi"])[moment.weekday()]
    clock = f"{moment.hour}:{moment.minute:02d}"
    if lang == "en":
        return f"{clock} on {weekday} {moment.day}/{moment.month}"
    return f"{clock} {weekday} {moment.day}/{moment.month}"


class OfficerDesk:
    """The officers' group and the tickets in it (see the module doc)."""

    def __init__(
        self,
        storage: SqlStorage,
        settings: HandoffSettings,
        channels: Mapping[str, Channel],
        texts,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.tickets = TicketStore(storage)
        self.settings = settings
        self.channels = dict(channels)
        self.texts = texts
        self.clock = clock

    @property
    def enabled(self) -> bool:
        """Officers take questions live: a group is configured and Telegram runs."""
        return bool(self.settings.officers_chat_id) and GROUP_CHANNEL in self.channels

    # --- the citizen's side ----------------------------------------------
    async def open_ticket(self, user: User, question: str, lang: str) -> list[Reply]:
        """Store the question, post it to the officers, and tell the citizen
        honestly what happens next (now, or from when)."""
        masked = mask_numbers(question.strip())
        now = self.clock()
        ticket = await self.tickets.open(user.channel, user.user_id, user.chat_id, lang, masked, now)
        await self.storage.audit(user_actor(user.channel, user.user_id), "handoff.opened", {"ticket": ticket.id})
        await self._to_group(
            NEW_TICKET.format(tag=_tag(ticket), channel=user.channel, language=lang,
                              province=user.province_code or "?", question=masked)
        )  # fmt: skip
        opening = next_opening(self.settings, now)
        if opening is None:
            text = self.texts.get("handoff.sent_now", lang, ticket=ticket.id)
        else:
            text = self.texts.get("handoff.sent_later", lang, ticket=ticket.id, when=describe_time(opening, lang))
        return [Reply(text, buttons=((self._back_button(lang),),))]

    async def close_by_citizen(self, channel: str, user_id: str, lang: str) -> list[Reply]:
        """The citizen chose to go back to the bot."""
        ticket = await self.tickets.open_ticket_of(channel, user_id)
        if ticket is not None:
            await self._close(ticket, user_actor(channel, user_id))
            await self._to_group(CITIZEN_LEFT.format(ticket=ticket.id))
        return [Reply(self.texts.get("handoff.closed_by_citizen", lang))]

    # --- interceptor -------------------------------------------------------
    async def handle(self, inbound: Inbound, user: User | None = None) -> list[Reply] | None:
        """Claim officers' group messages and open-ticket citizens' text
        (a dispatcher interceptor; tickets are looked up, not `user`)."""
        if not self.enabled:
            return None
        if inbound.channel == GROUP_CHANNEL and inbound.chat_id == self.settings.officers_chat_id:
            return await self._from_officer(inbound)
        if inbound.kind != InboundKind.TEXT or not inbound.text.strip() or inbound.text.startswith("/"):
            return None
        if len(inbound.text) > MAX_RELAYED or looks_like_secret(inbound.text):
            return None  # the dialogue's own length and secret guards answer
        ticket = await self.tickets.open_ticket_of(inbound.channel, inbound.user_id)
        if ticket is None:
            return None
        await self._to_group(FOLLOW_UP.format(tag=_tag(ticket), text=mask_numbers(inbound.text.strip())))
        return [Reply(self.texts.get("handoff.forwarded", ticket.language),
                      buttons=((self._back_button(ticket.language),),))]  # fmt: skip

    async def _from_officer(self, inbound: Inbound) -> list[Reply]:
        tag = _TICKET_TAG.search(inbound.reply_to_text)
        command = inbound.text.strip().split(maxsplit=1)[0].lower() if inbound.text.strip() else ""
        if tag is None:
            return [Reply(HOW_TO_REPLY)] if command == "/done" else []
        ticket = await self.tickets.get(int(tag.group(1)))
        if ticket is None or ticket.status != "open":
            return [Reply(ALREADY_CLOSED.format(ticket=tag.group(1)))]
        if not _same_ref(ticket, tag.group(2)):
            return [Reply(NOT_THIS_TICKET.format(ticket=ticket.id))]
        officer = user_actor(inbound.channel, inbound.user_id)
        if command == "/done":
            await self._close(ticket, officer)
            done = Reply(self.texts.get("handoff.done", ticket.language),
                         buttons=((Button(self.texts.get("button.menu", ticket.language), "menu:show"),),))  # fmt: skip
            await self._to_citizen(ticket, [done])
            return [Reply(CLOSED.format(ticket=ticket.id))]
        if not inbound.text.strip():
            return []
        answer = Reply(self.texts.get("handoff.officer_says", ticket.language, text=inbound.text.strip()),
                       buttons=((self._back_button(ticket.language),),))  # fmt: skip
        delivered = await self._to_citizen(ticket, [answer])
        await self.storage.audit(officer, "handoff.answered", {"ticket": ticket.id, "delivered": delivered})
        return [Reply((RELAYED if delivered else NOT_DELIVERED).format(ticket=ticket.id))]

    # --- helpers -------------------------------------------------------------
    def _back_button(self, lang: str) -> Button:
        return Button(self.texts.get("handoff.back_to_bot", lang), "handoff:close")

    async def _to_group(self, text: str) -> None:
        try:
            await self.channels[GROUP_CHANNEL].send(self.settings.officers_chat_id, [Reply(text)])
        except DeliveryError as error:
            log.warning("handoff: officers' group not reached: %s", type(error).__name__)

    async def _to_citizen(self, ticket: Ticket, replies: list[Reply]) -> bool:
        channel = self.channels.get(ticket.channel)
        if channel is None:
            return False
        try:
            await channel.send(ticket.chat_id, replies)
        except DeliveryError as error:
            log.warning("handoff: answer not delivered on %s: %s", ticket.channel, type(error).__name__)
            return False
        return True

    async def _close(self, ticket: Ticket, actor: str) -> None:
        await self.tickets.close(ticket.id, self.clock(), actor)
        await self.storage.audit(actor, "handoff.closed", {"ticket": ticket.id})


def _tag(ticket: Ticket) -> str:
    """How the ticket's group messages name it: id and random ref."""
    return f"Phiếu #{ticket.id} (mã {ticket.ref})"


def _same_ref(ticket: Ticket, ref: str | None) -> bool:
    """Whether a replied-to message's ref is the ticket's own."""
    return ticket.ref is not None and ref is not None and secrets.compare_digest(ticket.ref, ref)
