"""The privacy notice is short and comes where the bot first needs to keep
something personal, saying what; nothing personal is kept before consent
(issue 17, item 3; Personal Data Protection Law 91/2025/QH15)."""

from __future__ import annotations

import json

import pytest

from flows.texts import texts
from tests.flows.helpers import AWAITING_PAYMENT_CODE, LAN_ID

CONSENT_BUTTONS = {"onboarding:consent:yes", "onboarding:consent:more", "onboarding:consent:no"}
SHORT = 450  # characters: a phone screen, not a wall


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_notice_is_short_and_the_full_one_is_one_press_away(lang):
    words = texts()
    notice, details = words.get("privacy.notice", lang), words.get("privacy.details", lang)
    assert len(notice) <= SHORT
    for must in ("91/2025/QH15", "/privacy", "/forget"):
        assert must in notice
    # The full notice: what is kept, why, for how long, how to withdraw or erase.
    for must in {
        "vi": ("Tôi lưu", "Mục đích", "Thời hạn", "/privacy", "/forget"),
        "en": ("I keep", "Why", "How long", "/privacy", "/forget"),
    }[lang]:
        assert must in details


async def test_a_question_for_an_officer_from_a_first_time_user_gets_the_notice_with_the_reason(chat, storage):
    await chat.say("cho tôi gặp cán bộ")
    await chat.press("handoff:ask")
    assert "tôi cần lưu câu hỏi" in chat.text and "91/2025/QH15" in chat.text
    assert set(chat.payloads) >= CONSENT_BUTTONS
    await chat.press("onboarding:consent:more")
    assert "Tôi lưu" in chat.text and "onboarding:consent:yes" in chat.payloads
    user = await storage.get_user("web", chat.user_id)
    assert user is not None and user.consent_at is None and user.province_code is None


async def test_watching_a_request_without_consent_gets_the_notice_and_keeps_nothing(chat, storage):
    await chat.onboard("en", consent=False)
    await chat.say(f"status {AWAITING_PAYMENT_CODE}")
    await chat.say(LAN_ID)
    await chat.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    assert "To notify you I need to keep this request code." in chat.text and "91/2025/QH15" in chat.text
    assert set(chat.payloads) >= CONSENT_BUTTONS
    assert await storage.subscribers(AWAITING_PAYMENT_CODE) == []


async def test_a_request_looked_up_without_consent_is_forgotten_once_the_user_moves_on(chat, storage):
    await chat.onboard("vi", consent=False)
    await chat.say(f"tra cứu {AWAITING_PAYMENT_CODE}")
    await chat.say(LAN_ID)
    assert "status:notify:" + AWAITING_PAYMENT_CODE in chat.payloads
    await chat.press("menu:show")
    stored = await storage.load_conversation("web", chat.user_id)
    assert AWAITING_PAYMENT_CODE not in json.dumps(stored.data)


async def test_agreeing_after_asking_for_notices_turns_them_on_without_asking_again(chat, storage):
    await chat.onboard("en", consent=False)
    await chat.say(f"status {AWAITING_PAYMENT_CODE}")
    await chat.say(LAN_ID)
    await chat.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    await chat.press("onboarding:consent:yes")
    assert "Thank you for your consent." in chat.text
    assert f"I will message you when request {AWAITING_PAYMENT_CODE} changes." in chat.text
    assert [s.user_id for s in await storage.subscribers(AWAITING_PAYMENT_CODE)] == [chat.user_id]


async def test_agreeing_after_asking_for_an_officer_asks_for_the_question(chat):
    await chat.onboard("vi", consent=False)
    await chat.press("handoff:ask")
    await chat.press("onboarding:consent:yes")
    assert "Bạn gõ câu hỏi cho cán bộ" in chat.text
    await chat.say("Tôi đổi tên thì phiếu ghi tên nào?")
    assert "Đã gửi câu hỏi của bạn đến cán bộ." in chat.text


async def test_withdrawing_consent_deletes_the_watched_requests(chat, storage):
    await chat.onboard("vi")
    await chat.say(f"tra cứu {AWAITING_PAYMENT_CODE}")
    await chat.say(LAN_ID)
    await chat.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    assert [s.user_id for s in await storage.subscribers(AWAITING_PAYMENT_CODE)] == [chat.user_id]
    await chat.press("onboarding:consent:no")
    assert await storage.subscribers(AWAITING_PAYMENT_CODE) == []
    assert "Tôi không giữ tỉnh/thành, đăng ký thông báo hay câu hỏi nào của bạn." in chat.text
    stored = await storage.load_conversation("web", chat.user_id)
    assert AWAITING_PAYMENT_CODE not in json.dumps(stored.data)


async def test_a_province_button_without_consent_gets_the_notice_and_keeps_nothing(chat, storage):
    """An old button, or one forged, cannot store a province before consent."""
    await chat.onboard("vi", consent=False)
    await chat.press("onboarding:province:set:79")
    assert "tôi cần lưu thông tin này" in chat.text and set(chat.payloads) >= CONSENT_BUTTONS
    user = await storage.get_user("web", chat.user_id)
    assert user is not None and user.consent_at is None and user.province_code is None
    await chat.press("onboarding:consent:yes")
    await chat.press("onboarding:province:set:79")
    assert (await storage.get_user("web", chat.user_id)).province_code == "79"


async def test_the_privacy_command_shows_the_full_notice_and_the_current_choice(chat):
    await chat.onboard("vi")
    await chat.say("/privacy")
    assert "Tôi lưu" in chat.text and "Hiện tại: bạn đã đồng ý." in chat.text
