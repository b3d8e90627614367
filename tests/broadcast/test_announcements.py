"""Citizens stop and restart announcements themselves."""

from __future__ import annotations

from bot.announcements import AnnouncementSubscription
from core.messages import Inbound, InboundKind
from storage.broadcasts.model import Segment
from tests.broadcast.conftest import ADMIN, add_citizens, deliver, says


async def test_citizen_who_types_stop_gets_no_broadcast_until_start(storage, broadcasts, platform):
    await add_citizens(storage, 2, language="vi")
    subscription = AnnouncementSubscription(storage)
    [stopped] = await subscription.handle(says("telegram:1", "/stop"), await storage.get_user("telegram", "1"))
    assert stopped.text.startswith("Bạn sẽ không nhận thông báo chung nữa")
    await broadcasts.create(created_by=ADMIN, text="Tin 1", segment=Segment())
    await deliver(broadcasts, platform)
    assert sorted(platform.received) == ["2"]

    start = Inbound(channel="telegram", user_id="1", chat_id="1", kind=InboundKind.START)
    stored = await storage.get_user("telegram", "1")  # as the dispatcher's turn reads it
    assert await subscription.handle(start, stored) is None  # the ordinary /start answer follows
    await broadcasts.create(created_by=ADMIN, text="Tin 2", segment=Segment())
    await deliver(broadcasts, platform)
    assert platform.received["1"] == ["Tin 2"]
    actions = [row["action"] for row in await storage.list_audit(actor="telegram:1")]
    assert actions == ["announcements.restarted", "announcements.stopped"]


async def test_other_messages_pass_through_untouched(storage):
    subscription = AnnouncementSubscription(storage)
    for text in ("xin chào", "/menu", "/", "stop"):
        assert await subscription.handle(says("telegram:5", text), None) is None
    assert await storage.get_user("telegram", "5") is None
