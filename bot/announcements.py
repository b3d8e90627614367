"""Citizens stop and restart announcements: `/stop` opts out of broadcasts
(the bot still answers their questions and status updates they asked for);
`/start` opts back in and then starts as usual.

A dispatcher interceptor: `handle(inbound, user)` answers `/stop` and returns
None for everything else, so the ordinary dialogue carries on.
"""

from __future__ import annotations

from core.messages import Inbound, InboundKind, Reply
from storage.base import Storage, User, user_actor

STOPPED = {
    "vi": "Bạn sẽ không nhận thông báo chung nữa. Trợ lý vẫn trả lời khi bạn hỏi. Muốn nhận lại, gõ /start.",
    "en": "You will no longer get announcements. I still answer your questions. To get them again, type /start.",
}


def _command(inbound: Inbound) -> str | None:
    if inbound.kind == InboundKind.START:
        return "start"
    if inbound.kind != InboundKind.TEXT or not inbound.text.startswith("/"):
        return None
    return inbound.text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if inbound.text[1:].strip() else None


class AnnouncementSubscription:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def handle(self, inbound: Inbound, user: User | None) -> list[Reply] | None:
        """`user`: the stored user, as the dispatcher's turn read it (None: new)."""
        command = _command(inbound)
        if command == "stop":
            if user is None:
                user = await self.storage.get_or_create_user(inbound.channel, inbound.user_id, inbound.chat_id)
            if not user.announcements_opt_out:
                user.announcements_opt_out = True
                await self.storage.save_user(user)
                await self.storage.audit(user_actor(inbound.channel, inbound.user_id), "announcements.stopped")
            if user.language in STOPPED:
                return [Reply(text=STOPPED[user.language])]
            return [Reply(text=f"{STOPPED['vi']}\n\n{STOPPED['en']}")]
        if command == "start" and user is not None and user.announcements_opt_out:
            user.announcements_opt_out = False
            await self.storage.save_user(user)
            await self.storage.audit(user_actor(inbound.channel, inbound.user_id), "announcements.restarted")
        return None
