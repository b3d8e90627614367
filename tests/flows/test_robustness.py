"""Bad input anywhere in a flow gets a helpful reply and the chat stays usable,
and a restart in the middle of a flow loses nothing."""

from __future__ import annotations

import pytest

from bot.dispatcher import Dispatcher
from storage.sql import SqlStorage
from tests.flows.helpers import COMPLETED_CODE, LAN_ID, Chat, make_services, sqlite_url

BAD_INPUTS = [
    "x" * 5000,
    "😀🎉🙏",
    "<script>alert('x')</script><b>hi</b>",
    "000.00.99.H99-991399-0000",  # a wrong code
    "   ",
    "\u0000\u200b",
    "'; DROP TABLE users; --",
]

# (how to reach the state, payload that must still work afterwards)
STATES = {
    "menu": ([], "menu:open:fees"),
    "guide": (["menu:open:guide"], "guide:step:1"),
    "eligibility": (["menu:open:eligibility"], "eligibility:account:yes"),
    "fee group": (["menu:open:fees"], "fees:group:standard"),
    "fee copies": (["menu:open:fees", "fees:group:reduced"], "fees:copies:1"),
    "status code": (["menu:open:status"], "menu:open:guide"),
    "status proof": (["menu:open:status", f"say:{COMPLETED_CODE}"], "menu:open:fees"),
    "handoff question": (["menu:open:handoff", "handoff:ask"], "menu:show"),
    "onboarding province": (["onboarding:consent:yes"], "onboarding:province:skip"),
}


async def _go(chat: Chat, steps: list[str]) -> None:
    for step in steps:
        if step.startswith("say:"):
            await chat.say(step[4:])
        else:
            await chat.press(step)


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize(
    "bad", BAD_INPUTS, ids=["5000 chars", "emoji", "html", "wrong code", "blank", "control", "sql"]
)
async def test_bad_input_in_any_state_gets_a_reply_and_the_chat_stays_usable(chat, state, bad):
    await chat.onboard("vi")
    steps, next_payload = STATES[state]
    await _go(chat, steps)
    replies = await chat.say(bad)
    assert replies and all(reply.text for reply in replies)
    assert "lỗi" not in chat.text.lower() or "Xin lỗi, tôi vừa gặp lỗi" not in chat.text
    after = await chat.press(next_payload)
    assert after and "Nút này không còn dùng được" not in chat.text


async def test_a_stale_or_forged_button_gets_a_polite_reply(chat):
    await chat.onboard("en")
    await chat.press("nonsense:payload")
    assert "no longer active" in chat.text and "menu:open:guide" in chat.payloads
    await chat.press("guide:step:999")
    assert "3/3" in chat.text


async def test_restart_in_the_middle_of_a_flow_continues_where_the_user_was(tmp_path):
    url = sqlite_url(tmp_path)
    storage = SqlStorage(url)
    await storage.init()
    chat = Chat(Dispatcher(make_services(storage)))
    await chat.onboard("en")
    await chat.press("menu:open:fees")
    await chat.press("fees:group:reduced")  # now asked for the number of copies
    await storage.close()

    reopened = SqlStorage(url)  # a new process: fresh storage, dispatcher and flows
    await reopened.init()
    try:
        chat = Chat(Dispatcher(make_services(reopened)), _ids=iter(range(100, 200)))
        await chat.say("3")  # the answer to the question asked before the restart
        assert "105.000 đ" in chat.text  # reduced 100.000 + one extra copy
        await chat.press("menu:open:status")
        await chat.say(COMPLETED_CODE)
        await reopened.close()
        reopened = SqlStorage(url)
        await reopened.init()
        chat = Chat(Dispatcher(make_services(reopened)), _ids=iter(range(200, 300)))
        await chat.say(LAN_ID)
        assert COMPLETED_CODE in chat.text and any(reply.image for reply in chat.last)
    finally:
        await reopened.close()


@pytest.mark.parametrize(
    "question", ["tai app vneid o dau vay", "Tải ứng dụng VNeID về máy ở đâu", "link cài vneid có an toàn không"]
)
async def test_questions_about_installing_vneid_get_the_fake_app_advice_first(chat, question):
    await chat.onboard("vi")
    await chat.say(question)
    assert "official stores" in chat.last[0].text  # FakeKnowledge's safety advice, before the answer
