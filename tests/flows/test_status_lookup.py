"""A status lookup that never strands (issue 17, item 4), through the real
dispatcher, the real knowledge base and the mock backend's seeded requests
(README "Demo data"): a wrong proof is asked for again, code and proof may
come together, dates in every usual form, a late request says so and whom to
ask, a rejection shows its reason, an expired or revoked certificate gets no
QR code, and an unpaid request mentions the possible fee waiver."""

from __future__ import annotations

from datetime import date

import pytest

from backend.client import OwnershipProof
from bot.dispatcher import Dispatcher
from domain.fees import fee_rules
from domain.knowledge import load_knowledge
from tests.flows.helpers import AWAITING_PAYMENT_CODE, COMPLETED_CODE, LAN_ID, LAN_LAST4_AND_BIRTH, Chat, make_services

TODAY = date(2026, 11, 23)
RECEIVED_CODE = "000.00.79.H79-261118-0003"  # target 25/11/2026: not late on TODAY
PROCESSING_CODE = "000.00.79.H79-261115-0007"  # target 20/11/2026: late on TODAY
REJECTED_CODE = "000.00.40.H40-261105-0004"
EXPIRED_LINK_CODE = "000.00.24.H24-251010-0003"
REVOKED_CODE = "000.00.79.H79-260605-0011"
MINH = "1234 02/07/1985"
MAI = OwnershipProof(id_last4="2211", birth_date=date(1975, 1, 30))
WRONG_ID = "079085001234"  # Minh's id number, not Lan's


def make_chat(storage, today: date = TODAY) -> Chat:
    return Chat(Dispatcher(make_services(storage, knowledge=load_knowledge(), today=today)))


@pytest.fixture
def chat(storage):
    return make_chat(storage)


def has_qr(chat: Chat) -> bool:
    return any(reply.image is not None for reply in chat.last) or any(
        reply.link is not None and "/verify/" in reply.link.url for reply in chat.last
    )


async def look_up(chat: Chat, code: str, proof: str, lang: str = "vi", goal: str = "status") -> None:
    await chat.onboard(lang)
    await chat.press(f"menu:open:{goal}")
    await chat.say(code)
    await chat.say(proof)


# 1. A wrong proof asks for the proof again -----------------------------------------------


async def test_a_wrong_proof_asks_for_the_proof_again_and_keeps_the_code(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:status")
    await chat.say(COMPLETED_CODE)
    await chat.say(WRONG_ID)
    assert COMPLETED_CODE in chat.text and "còn 2 lần thử" in chat.text
    assert "Đây chưa phải mã hồ sơ" not in chat.text
    await chat.say(LAN_LAST4_AND_BIRTH)  # the right proof, without typing the code again
    assert "Đây chưa phải mã hồ sơ" not in chat.text
    assert has_qr(chat)


async def test_three_wrong_proofs_in_a_row_lock_the_lookup(chat):
    await chat.onboard("en")
    await chat.press("menu:open:status")
    await chat.say(COMPLETED_CODE)
    await chat.say(WRONG_ID)
    await chat.say(WRONG_ID)
    assert "1 tries left" in chat.text
    await chat.say(WRONG_ID)
    assert "menu:open:handoff" in chat.payloads  # locked: offered a human instead
    await chat.say(LAN_ID)  # even the right proof waits for the lock-out
    assert not has_qr(chat) and "menu:open:handoff" in chat.payloads


# 2. Code and proof in one message ------------------------------------------------------------


@pytest.mark.parametrize("message", [f"{COMPLETED_CODE} 4567 14/03/1990", f"{COMPLETED_CODE} {LAN_ID}"])
async def test_code_and_proof_in_one_message(chat, message):
    await chat.onboard("vi")
    await chat.press("menu:open:status")
    await chat.say(message)
    assert has_qr(chat)


@pytest.mark.parametrize(
    "message", [f"tra cứu hồ sơ {COMPLETED_CODE} 4567 + 14/03/1990", f"status {COMPLETED_CODE} {LAN_ID}"]
)
async def test_a_question_with_code_and_proof_from_the_menu_is_answered_at_once(chat, message):
    await chat.onboard("vi")
    await chat.say(message)  # routed by intent, not typed at the code step
    assert has_qr(chat)


async def test_code_and_proof_in_one_message_after_another_lookup(chat):
    await look_up(chat, AWAITING_PAYMENT_CODE, LAN_ID)
    await chat.say(f"còn hồ sơ {COMPLETED_CODE}, 4567 + 14/03/1990")
    assert COMPLETED_CODE in chat.text and has_qr(chat)


async def test_another_code_at_the_proof_step_replaces_the_first(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:status")
    await chat.say(AWAITING_PAYMENT_CODE)
    await chat.say(f"nhầm, mã đúng là {COMPLETED_CODE}")
    assert COMPLETED_CODE in chat.text and "Đây chưa phải mã hồ sơ" not in chat.text
    await chat.say(LAN_ID)
    assert has_qr(chat)


# 3. Dates in the usual Vietnamese forms -------------------------------------------------------


@pytest.mark.parametrize(
    "proof",
    [
        "4567 14/03/1990",
        "4567 14-03-1990",
        "4567 14.03.1990",
        "4567 ngày 14 tháng 3 năm 1990",
        "4567 + 14/03/1990",
        "4567+14/03/1990",
        "4567, 14/03/1990",
        "4567 - 14-03-1990",
        "4567 và 14.03.1990",
        "14/03/1990 4567",
        "ngày sinh 14/03/1990, 4 số cuối 4567",
        "001 190 004 567",
    ],
)
async def test_proof_in_the_usual_forms_is_accepted(chat, proof):
    await look_up(chat, COMPLETED_CODE, proof)
    assert has_qr(chat), chat.text


@pytest.mark.parametrize("proof", ["4567", "14/03/1990", "4567 31/02/1990", "4567 1234 14/03/1990"])
async def test_an_incomplete_proof_is_asked_for_again_without_a_failed_try(chat, proof):
    await look_up(chat, COMPLETED_CODE, proof)
    assert not has_qr(chat) and "lần thử" not in chat.text
    await chat.say(LAN_LAST4_AND_BIRTH)
    assert has_qr(chat)


# 4. A request past its target date ---------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_late_request_says_so_and_whom_to_ask(chat, lang):
    await look_up(chat, PROCESSING_CODE, MINH, lang)
    text = chat.text
    if lang == "vi":
        assert "quá ngày hẹn trả kết quả (20/11/2026)" in text
        assert "Công an thành phố Hồ Chí Minh" in text
        assert "dự thảo" in text and "xin lỗi" in text  # the draft circular, worded as such
        assert "chỉ cần chờ" not in text
    else:
        assert "target date (20/11/2026) has passed" in text
        assert "Ho Chi Minh City Police" in text and "draft" in text and "apology" in text
        assert "Please wait" not in text
    late = next(reply for reply in chat.last if "20/11/2026" in reply.text)
    assert late.link is not None and late.link.url.startswith("https://")


async def test_a_request_before_its_target_date_gives_the_date_and_no_late_note(chat):
    await look_up(chat, RECEIVED_CODE, MINH)
    assert "Ngày hẹn trả kết quả (dự kiến): 25/11/2026" in chat.text
    assert "quá ngày hẹn" not in chat.text


# 5. A rejection shows the backend's reason ------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_rejection_shows_the_reason_the_backend_gives(chat, lang):
    view = await chat.dispatcher.services.backend.lookup(REJECTED_CODE, MAI)
    reason = view.history[-1].reason_vi if lang == "vi" else view.history[-1].reason_en
    await look_up(chat, REJECTED_CODE, "2211 30/01/1975", lang)
    assert reason and reason in chat.text
    assert ("Lý do: " if lang == "vi" else "Reason: ") + reason in chat.text


# 6. An expired or revoked certificate -------------------------------------------------------------


@pytest.mark.parametrize("goal", ["status", "certificate"])
async def test_a_certificate_whose_link_expired_gets_no_qr_and_what_to_do(chat, goal):
    await look_up(chat, EXPIRED_LINK_CODE, "5533 01/12/1994", goal=goal)
    assert not has_qr(chat)
    assert "đã hết hạn" in chat.text and "yêu cầu mới trong VNeID" in chat.text
    assert "Bắc Ninh" in chat.text  # the receiving unit to ask
    assert "còn hợp lệ" not in chat.text


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_revoked_certificate_is_described_as_revoked_without_a_qr(chat, lang):
    await look_up(chat, REVOKED_CODE, MINH, lang, goal="certificate")
    assert not has_qr(chat)
    assert ("thu hồi" if lang == "vi" else "revoked") in chat.text
    assert ("yêu cầu mới" if lang == "vi" else "new request") in chat.text


async def test_a_valid_certificate_still_comes_with_its_qr(chat):
    await look_up(chat, COMPLETED_CODE, LAN_ID, goal="certificate")
    assert has_qr(chat) and "thu hồi" not in chat.text and "hết hạn" not in chat.text


# 7. Awaiting payment mentions the possible waiver ------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_awaiting_payment_mentions_the_possible_waiver_with_its_source(chat, lang):
    waiver = next(w for w in fee_rules().possible_waivers if w.valid_from <= TODAY <= w.valid_to)
    await look_up(chat, AWAITING_PAYMENT_CODE, LAN_ID, lang)
    assert waiver.text[lang] in chat.text
    assert "28/02/2027" in chat.text
    assert "117/2026/TT-BTC" in chat.text  # the basis, from fees.yml
    reply = next(reply for reply in chat.last if waiver.text[lang] in reply.text)
    assert reply.link is not None and reply.link.url in waiver.sources


async def test_awaiting_payment_after_the_waiver_ended_does_not_mention_it(storage):
    chat = make_chat(storage, today=date(2027, 3, 5))
    await look_up(chat, AWAITING_PAYMENT_CODE, LAN_ID)
    assert "Chờ thanh toán" in chat.text or "thanh toán" in chat.text
    assert "miễn" not in chat.text
