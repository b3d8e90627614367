"""Roles from config.yml and the database; staff commands only for staff,
everyone else gets the ordinary answer; every admin action audited."""

from __future__ import annotations

import pytest

from bot.roles import Role, RoleError
from core.messages import Inbound, InboundKind
from storage.broadcasts.model import Segment
from tests.broadcast.conftest import ADMIN, CONFIG_ADMIN, add_citizens, deliver, says


async def test_admin_from_config_holds_every_role_and_others_hold_none(roles):
    assert await roles.has("telegram", "1001", Role.ADMIN)
    assert await roles.has("telegram", "1001", Role.OFFICER)  # admins may do officers' work
    assert await roles.has("zalo_bot", "77", Role.OUTREACH)
    assert not await roles.has("zalo_bot", "77", Role.ADMIN)
    assert not await roles.has("telegram", "42", Role.OFFICER)
    assert not await roles.has("zalo_bot", "1001", Role.ADMIN)  # same id, other channel: someone else


async def test_granted_role_works_until_revoked_and_both_are_audited(roles, storage):
    assert await roles.grant("telegram:42", Role.OFFICER, ADMIN)
    assert not await roles.grant("telegram:42", Role.OFFICER, ADMIN)  # already
    assert await roles.has("telegram", "42", Role.OFFICER)
    assert await roles.revoke("telegram:42", Role.OFFICER, ADMIN)
    assert not await roles.has("telegram", "42", Role.OFFICER)
    audit = [(row["action"], row["details"]) for row in await storage.list_audit(actor=ADMIN)]
    assert audit == [
        ("role.revoked", {"who": "telegram:42", "role": "officer"}),
        ("role.granted", {"who": "telegram:42", "role": "officer"}),
    ]


async def test_role_from_config_cannot_be_revoked_in_the_database(roles):
    with pytest.raises(RoleError, match="config.yml"):
        await roles.revoke(CONFIG_ADMIN, Role.ADMIN, ADMIN)
    with pytest.raises(RoleError, match="<channel>:<user id>"):
        await roles.grant("123456", Role.ADMIN, ADMIN)


async def test_citizen_sending_an_admin_command_gets_the_ordinary_answer(staff, storage):
    for text in ("/broadcasts", "/broadcast_cancel 1", "/grant admin telegram:42", "/roles"):
        assert await staff.handle(says("telegram:42", text)) is None  # the dispatcher answers as for any text
    assert await staff.handle(says("zalo_bot:77", "/broadcasts")) is None  # outreach staff are not admins
    assert await storage.list_audit(actor="telegram:42") == []


async def test_admin_sees_progress_and_cancels_a_broadcast_in_chat(staff, broadcasts, storage):
    await add_citizens(storage, 4)
    broadcast = await broadcasts.create(created_by=ADMIN, text="Lịch tiếp dân", segment=Segment.parse(["province=79"]))

    [listing] = await staff.handle(says(CONFIG_ADMIN, "/broadcasts"))
    assert f"#{broadcast.id} [sending] province=79" in listing.text
    [cancelled] = await staff.handle(says(CONFIG_ADMIN, f"/broadcast_cancel {broadcast.id}"))
    assert "Đã huỷ" in cancelled.text
    [again] = await staff.handle(says(CONFIG_ADMIN, f"/broadcast_cancel {broadcast.id}"))
    assert "đã kết thúc" in again.text
    [missing] = await staff.handle(says(CONFIG_ADMIN, "/broadcast_report 999"))
    assert "Không có thông báo #999" in missing.text
    [usage] = await staff.handle(says(CONFIG_ADMIN, "/broadcast_report abc"))
    assert "Cách dùng" in usage.text

    actions = [row["action"] for row in await storage.list_audit(actor=CONFIG_ADMIN)]
    assert actions.count("broadcast.cancelled") == 1
    assert {"command.broadcasts", "command.broadcast_cancel", "command.broadcast_report"} <= set(actions)


async def test_admin_grants_a_role_in_chat(staff, roles):
    [done] = await staff.handle(says(CONFIG_ADMIN, "/grant officer telegram:555"))
    assert "Xong" in done.text
    assert await roles.has("telegram", "555", Role.OFFICER)
    [usage] = await staff.handle(says(CONFIG_ADMIN, "/grant boss telegram:555"))
    assert "Cách dùng" in usage.text


async def test_outreach_staff_see_their_posters_reach_but_not_admin_commands(staff, storage):
    user = await storage.get_or_create_user("telegram", "9", "9")
    user.source = "xa-tan-phu_CB07"
    await storage.save_user(user)
    [stats] = await staff.handle(says("zalo_bot:77", "/outreach"))
    assert "xa-tan-phu · CB07: 1 | 0 / 0 / 0 / 0" in stats.text
    assert await staff.handle(says("zalo_bot:77", "/roles")) is None
    assert await staff.handle(says("telegram:42", "/outreach")) is None


def presses(who: str, payload: str) -> Inbound:
    channel, user_id = who.split(":")
    return Inbound(channel=channel, user_id=user_id, chat_id=user_id, kind=InboundKind.BUTTON, payload=payload)


async def test_admin_composes_previews_and_confirms_a_broadcast_in_chat(staff, broadcasts, storage, platform):
    await add_citizens(storage, 3, province_code="79")
    await add_citizens(storage, 2, start=50, province_code="01")
    link = "https://congan.example.gov.vn/tin"
    text = f"/broadcast province=79\nTừ 01/12 tiếp dân cả sáng thứ Bảy.\nlink: Chi tiết | {link}"
    preview, summary = await staff.handle(says(CONFIG_ADMIN, text))

    assert preview.text == "Từ 01/12 tiếp dân cả sáng thứ Bảy." and preview.link.url == link
    assert "Gửi tới 3 người (province=79)" in summary.text
    send, drop = summary.all_buttons
    await deliver(broadcasts, platform)
    assert platform.delivered == 0  # nothing goes before the admin confirms
    assert await staff.handle(presses("telegram:42", send.payload)) is None  # a citizen cannot confirm it

    [sending] = await staff.handle(presses(CONFIG_ADMIN, send.payload))
    assert "Đang gửi thông báo" in sending.text and "3 người" in sending.text
    await deliver(broadcasts, platform)
    assert sorted(platform.received) == ["1", "2", "3"]
    [again] = await staff.handle(presses(CONFIG_ADMIN, send.payload))
    assert "trước đó" in again.text  # a double tap sends nothing twice
    assert platform.delivered == 3


async def test_admin_discards_a_draft_and_bad_compositions_get_help(staff, broadcasts, storage, platform):
    await add_citizens(storage, 2)
    _, summary = await staff.handle(says(CONFIG_ADMIN, "/broadcast at=+1h\nBảo trì hệ thống tối nay."))
    assert "giờ Việt Nam" in summary.text
    _, drop = summary.all_buttons
    [dropped] = await staff.handle(presses(CONFIG_ADMIN, drop.payload))
    assert "Đã huỷ bản nháp" in dropped.text
    bad_compositions = (
        "/broadcast",
        "/broadcast provice=79\nTin",
        "/broadcast\nTin\nlink: Xem | http://x",
        "/broadcast at=hôm qua\nTin",
    )
    for bad in bad_compositions:
        [help_reply] = await staff.handle(says(CONFIG_ADMIN, bad))
        assert "/broadcast province=79" in help_reply.text
    assert await staff.handle(says("telegram:42", "/broadcast\nTin")) is None
