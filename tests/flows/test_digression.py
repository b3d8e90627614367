"""A question typed while a flow waits for an answer is answered, then the
flow is offered back, and the offer resumes at the step the question
interrupted (issue 17, item 3)."""

from __future__ import annotations

from flows.registry import all_flows
from flows.texts import texts
from tests.flows.helpers import AWAITING_PAYMENT_CODE, LAN_LAST4_AND_BIRTH

RESUME = "intent:resume"


async def test_a_question_at_the_fee_group_step_is_answered_then_the_calculator_resumes_there(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.say("bao lâu thì có kết quả")
    assert "answer about processing_time" in chat.text
    assert "Tiếp tục tính phí?" in chat.text
    assert RESUME in chat.payloads
    await chat.press(RESUME)
    assert "Bạn thuộc nhóm nào?" in chat.text
    await chat.say("sinh viên")  # the step answered as if nothing had happened
    assert "fees:copies:1" in chat.payloads


async def test_the_calculator_resumes_at_the_copies_step_with_the_group_kept(chat):
    await chat.onboard("en")
    await chat.press("menu:open:fees")
    await chat.press("fees:group:reduced")
    await chat.say("how long does it take?")
    assert "answer about processing_time" in chat.text
    assert "Continue the fee calculation?" in chat.text
    await chat.press(RESUME)
    assert "fees:copies:1" in chat.payloads  # the copies question again
    await chat.press("fees:copies:2")
    assert "100.000 đ" in chat.text  # the reduced group chosen before the question


async def test_the_status_lookup_resumes_at_the_proof_step_with_the_code_kept(chat):
    await chat.onboard("vi")
    await chat.say(f"tra cứu {AWAITING_PAYMENT_CODE}")
    assert AWAITING_PAYMENT_CODE in chat.text  # the proof is asked for this code
    await chat.say("bao lâu thì có kết quả")
    assert "answer about processing_time" in chat.text
    assert "Tiếp tục tra cứu hồ sơ?" in chat.text
    await chat.press(RESUME)
    assert AWAITING_PAYMENT_CODE in chat.text
    await chat.say(LAN_LAST4_AND_BIRTH)
    assert "AWAITING_PAYMENT" in chat.text  # found: the code was kept across the question


async def test_no_offer_when_nothing_was_interrupted_and_a_used_offer_is_stale(chat):
    await chat.onboard("vi")
    await chat.say("bao lâu thì có kết quả")
    assert RESUME not in chat.payloads  # no flow was waiting
    await chat.press("menu:open:fees")
    await chat.say("bao lâu thì có kết quả")
    await chat.press(RESUME)
    await chat.press(RESUME)  # pressed again from the old message: nothing to resume any more
    assert "Bạn thuộc nhóm nào?" not in chat.text


async def test_small_talk_mid_flow_keeps_the_flow_without_an_offer(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.say("cảm ơn")
    assert RESUME not in chat.payloads
    await chat.say("sinh viên")  # still at the group step
    assert "fees:copies:1" in chat.payloads


def test_every_resumable_flow_has_its_offer_in_both_languages():
    words = texts()
    resumable = [flow for flow in all_flows().values() if flow.resumable_states]
    assert {flow.name for flow in resumable} >= {"fees", "status", "eligibility"}
    for flow in resumable:
        for lang in ("vi", "en"):
            assert words.get(f"resume.{flow.name}", lang).endswith("?")


async def test_the_interrupted_step_is_forgotten_once_another_flow_starts(chat, storage):
    await chat.onboard("vi")
    await chat.say(f"tra cứu {AWAITING_PAYMENT_CODE}")
    await chat.say("bao lâu thì có kết quả")
    assert RESUME in chat.payloads
    await chat.press("menu:open:guide")
    conversation = await storage.load_conversation("web", chat.user_id)
    assert AWAITING_PAYMENT_CODE not in str(conversation.data)  # the code went with the paused step
    await chat.press(RESUME)  # the old offer: nothing to resume any more
    assert AWAITING_PAYMENT_CODE not in chat.text


async def test_the_eligibility_check_resumes_at_its_question(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:eligibility")
    await chat.press("eligibility:account:yes")  # now: for whom?
    await chat.say("bao lâu thì có kết quả")
    assert "Tiếp tục kiểm tra điều kiện xin phiếu?" in chat.text
    await chat.press(RESUME)
    assert "Bạn xin phiếu cho ai?" in chat.text
    assert "eligibility:for_whom:me" in chat.payloads
