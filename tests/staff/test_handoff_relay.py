"""Officer handoff through the real app: a citizen's question reaches the
officers' Telegram group (numbers masked), an officer's reply-to comes back
to the citizen on Telegram or in the web chat, `/done` hands them back to
the bot; outside office hours the citizen is told when to expect an answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from bot.config import HandoffSettings
from bot.handoff_relay import describe_time, next_opening
from storage.schema import handoff_tickets
from tests.fakes.telegram_api import ChatMessage, FakeTelegramApi
from tests.staff.conftest import serve_runtime, staff_settings
from tests.web.conftest import web_session

GROUP = -1001234567
ALWAYS_OPEN = {"office_days": [1, 2, 3, 4, 5, 6, 7], "opens": "00:00", "closes": "23:59"}
# Tuesday 12:00 in Hanoi: not the minute 23:59 that ALWAYS_OPEN misses.
WORKING_NOON = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


@pytest.fixture
async def api():
    async with FakeTelegramApi() as fake:
        yield fake


async def _bot(tmp_path, api, monkeypatch, **handoff):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
    monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
    settings = staff_settings(
        tmp_path,
        telegram={"polling_timeout_seconds": 1},
        handoff={"officers_chat_id": str(GROUP), **handoff},
    )
    url, runtime, server = await serve_runtime(settings)
    runtime.officer_desk.clock = lambda: WORKING_NOON  # the tests pass at any hour
    await asyncio.wait_for(runtime.channel("telegram").ready.wait(), 10)
    return url, runtime, server


async def _consented(runtime, channel: str, user_id: str) -> None:
    user = await runtime.storage.get_or_create_user(channel, user_id, user_id)
    user.language, user.consent_at, user.province_code = "vi", datetime.now(UTC), "01"
    await runtime.storage.save_user(user)


def _last(api) -> ChatMessage:
    """The bot's newest message to the citizen (an empty one before any)."""
    messages = api.bot_messages(42)
    return messages[-1] if messages else ChatMessage(0, from_bot=True)


def _group_messages(api) -> list:
    return api.bot_messages(GROUP)


async def _group_ticket(api, count: int = 1):
    await api.wait_for(lambda: len([m for m in _group_messages(api) if "Phiếu #" in m.text]) >= count)
    return [m for m in _group_messages(api) if m.text.startswith("🙋")][-1]


async def test_telegram_citizen_and_officer_talk_through_the_group_until_done(tmp_path, api, monkeypatch):
    url, runtime, server = await _bot(tmp_path, api, monkeypatch, **ALWAYS_OPEN)
    try:
        await _consented(runtime, "telegram", "42")
        await api.user_says("/menu")
        await api.wait_for(lambda: "☎️ Hỏi cán bộ" in _last(api).button_titles)
        await api.user_presses("☎️ Hỏi cán bộ")
        await api.wait_for(lambda: "✍️ Để lại câu hỏi" in _last(api).button_titles)
        await api.user_presses("✍️ Để lại câu hỏi")
        await api.wait_for(lambda: "gõ câu hỏi" in _last(api).text)
        await api.user_says("Số định danh 001190004567 của tôi bị sai năm sinh, sửa ở đâu?")

        posted = await _group_ticket(api)
        assert "001190004567" not in posted.text and "***" in posted.text
        assert "sai năm sinh" in posted.text and "tỉnh 01" in posted.text
        await api.wait_for(lambda: "Đã chuyển câu hỏi" in _last(api).text)
        assert "trong giờ làm việc" in api.last_bot_message().text.lower()

        # The citizen adds something: it goes to the group, not to the bot.
        await api.user_says("Tôi ở xã Tân Hoà")
        await api.wait_for(lambda: any("nhắn thêm: Tôi ở xã Tân Hoà" in m.text for m in _group_messages(api)))

        await api.member_replies_in_group(GROUP, posted, "Bạn mang CCCD đến công an xã để sửa.")
        await api.wait_for(lambda: "Bạn mang CCCD" in _last(api).text)
        assert api.last_bot_message().text.startswith("👮 Cán bộ trả lời")
        await api.wait_for(lambda: "Đã chuyển câu trả lời" in _group_messages(api)[-1].text)

        await api.member_replies_in_group(GROUP, posted, "/done")
        await api.wait_for(lambda: "kết thúc trao đổi" in _last(api).text)
        await api.wait_for(lambda: "đã kết thúc" in _group_messages(api)[-1].text)

        # Back with the bot: a later reply in the group is not relayed.
        await api.member_replies_in_group(GROUP, posted, "Còn gì nữa không?")
        await api.wait_for(lambda: "không được chuyển" in _group_messages(api)[-1].text)
        assert "Còn gì nữa" not in api.last_bot_message().text
        async with runtime.storage.transaction() as conn:
            rows = (await conn.execute(select(handoff_tickets))).all()
        assert [row.status for row in rows] == ["closed"]
        assert "001190004567" not in rows[0].question
    finally:
        await server.stop()


async def test_web_chat_citizen_receives_the_officers_reply(tmp_path, api, monkeypatch):
    url, runtime, server = await _bot(tmp_path, api, monkeypatch, **ALWAYS_OPEN)
    try:
        await _consented(runtime, "web", "web-citizen")
        async with httpx.AsyncClient(cookies=web_session(runtime, "web-citizen")) as client:
            chat = f"{url}/api/chat"
            await client.post(chat, json={"user_id": "web-citizen", "button": "handoff:ask"})
            reply = await client.post(chat, json={"user_id": "web-citizen", "text": "Khi nào có phiếu lý lịch?"})
            assert "Đã chuyển câu hỏi" in reply.json()["replies"][0]["text"]
            posted = await _group_ticket(api)
            assert "kênh web" in posted.text
            await api.member_replies_in_group(GROUP, posted, "Thường 10 ngày làm việc.")
            texts: list[str] = []
            for _ in range(100):
                updates = await client.get(f"{url}/api/chat/updates", params={"user_id": "web-citizen"})
                texts += [item["text"] for item in updates.json()["replies"]]
                if any("10 ngày" in text for text in texts):
                    break
                await asyncio.sleep(0.05)
            assert any(text.startswith("👮") and "10 ngày" in text for text in texts)
    finally:
        await server.stop()


async def test_citizen_asking_outside_office_hours_is_told_when_to_expect_an_answer(tmp_path, api, monkeypatch):
    url, runtime, server = await _bot(tmp_path, api, monkeypatch)  # Mon-Fri 07:30-17:00
    runtime.officer_desk.clock = lambda: datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # Saturday 20:00 in Hanoi
    try:
        await _consented(runtime, "web", "late")
        async with httpx.AsyncClient(cookies=web_session(runtime, "late")) as client:
            chat = f"{url}/api/chat"
            await client.post(chat, json={"user_id": "late", "button": "handoff:ask"})
            reply = await client.post(chat, json={"user_id": "late", "text": "Cho tôi hỏi về phiếu số 2"})
        text = reply.json()["replies"][0]["text"]
        assert "ngoài giờ làm việc" in text and "từ 7:30 thứ Hai 30/11" in text
        await _group_ticket(api)  # officers still see it when they come in
    finally:
        await server.stop()


def test_office_hours_need_at_least_one_working_day():
    with pytest.raises(ValueError):
        HandoffSettings(office_days=[])


def test_next_opening_is_the_next_working_morning_in_the_office_time_zone():
    settings = HandoffSettings()  # Mon-Fri 07:30-17:00, Asia/Ho_Chi_Minh
    friday_evening = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # 19:00 in Hanoi
    opening = next_opening(settings, friday_evening)
    assert (opening.isoweekday(), opening.hour, opening.minute, opening.day) == (1, 7, 30, 30)
    assert describe_time(opening, "vi") == "7:30 thứ Hai 30/11"
    assert describe_time(opening, "en") == "7:30 on Monday 30/11"
    assert next_opening(settings, datetime(2026, 11, 25, 3, 0, tzinfo=UTC)) is None  # Wed 10:00


async def test_forget_me_erases_the_citizens_handoff_tickets(tmp_path, api, monkeypatch):
    url, runtime, server = await _bot(tmp_path, api, monkeypatch, **ALWAYS_OPEN)
    try:
        await _consented(runtime, "web", "forgetful")
        async with httpx.AsyncClient(cookies=web_session(runtime, "forgetful")) as client:
            chat = f"{url}/api/chat"
            await client.post(chat, json={"user_id": "forgetful", "button": "handoff:ask"})
            await client.post(chat, json={"user_id": "forgetful", "text": "Một câu hỏi"})
        await runtime.storage.forget_user("web", "forgetful")
        async with runtime.storage.transaction() as conn:
            assert (await conn.execute(select(handoff_tickets))).all() == []
    finally:
        await server.stop()


async def _pending(client, url: str, runtime, user_id: str) -> list[str]:
    client.cookies.update(web_session(runtime, user_id))
    updates = await client.get(f"{url}/api/chat/updates", params={"user_id": user_id})
    return [item["text"] for item in updates.json()["replies"]]


async def _web_asks(client, url: str, runtime, user_id: str, question: str) -> None:
    client.cookies.update(web_session(runtime, user_id))
    await client.post(f"{url}/api/chat", json={"user_id": user_id, "button": "handoff:ask"})
    reply = await client.post(f"{url}/api/chat", json={"user_id": user_id, "text": question})
    assert "Đã chuyển câu hỏi" in reply.json()["replies"][0]["text"]


async def test_an_answer_to_a_forgotten_citizens_ticket_never_reaches_the_next_citizen(tmp_path, api, monkeypatch):
    """Issue 20, finding 2: ticket ids were reused after forget-me, and a
    reply to the old ticket's message went, with its request code, to
    whoever held that id now."""
    url, runtime, server = await _bot(tmp_path, api, monkeypatch, **ALWAYS_OPEN)
    try:
        for user_id in ("first", "second"):
            await _consented(runtime, "web", user_id)
        async with httpx.AsyncClient() as client:
            await _web_asks(client, url, runtime, "first", "Hồ sơ của tôi đến đâu rồi?")
            old = await _group_ticket(api)
            await runtime.storage.forget_user("web", "first")
            await _web_asks(client, url, runtime, "second", "Lệ phí bao nhiêu?")
            new = await _group_ticket(api, 2)

            # An officer answers the forgotten citizen's old message: it goes nowhere.
            answered = len(_group_messages(api))
            await api.member_replies_in_group(GROUP, old, "Hồ sơ 000.00.01.H01-261120-0001 đã có kết quả.")
            await api.wait_for(lambda: len(_group_messages(api)) > answered)
            assert "không được chuyển" in _group_messages(api)[-1].text
            # A hand-typed "Phiếu #N" of the new ticket is not its message either.
            typed = new.text.split(" (mã")[0].removeprefix("🙋 ")
            answered = len(_group_messages(api))
            await api.member_replies_in_group(GROUP, ChatMessage(9999, from_bot=False, text=typed), "Đã xong rồi.")
            await api.wait_for(lambda: len(_group_messages(api)) > answered)
            assert "không được chuyển" in _group_messages(api)[-1].text
            assert await _pending(client, url, runtime, "second") == []

            # The answer to the new ticket's own message reaches its citizen.
            await api.member_replies_in_group(GROUP, new, "Lệ phí 200.000 đồng.")
            await api.wait_for(lambda: "Đã chuyển câu trả lời" in _group_messages(api)[-1].text)
            texts = await _pending(client, url, runtime, "second")
            assert len(texts) == 1 and "200.000" in texts[0] and "000.00.01" not in texts[0]
        assert new.text.split(" · ")[0] != old.text.split(" · ")[0]  # "🙋 Phiếu #N (mã ...)": its own
    finally:
        await server.stop()
