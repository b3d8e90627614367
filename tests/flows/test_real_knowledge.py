"""The flows against the real knowledge base (domain/data/knowledge/*.yml), in both
languages: every fact-bearing answer carries the rule's effective date, when it
was last checked, and a source link."""

from __future__ import annotations

import pytest

from bot.dispatcher import Dispatcher
from domain.knowledge import load_knowledge
from flows.illustrations import step_image
from tests.flows.helpers import COMPLETED_CODE, LAN_ID, Chat, make_services


@pytest.fixture
def chat(storage):
    services = make_services(storage, knowledge=load_knowledge())
    services.illustrations = step_image
    return Chat(Dispatcher(services))


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_every_menu_flow_runs_on_the_real_knowledge_base(chat, lang):
    as_of = "Theo quy định từ ngày" if lang == "vi" else "Rule in force since"
    await chat.onboard(lang)
    await chat.press("menu:open:guide")
    assert chat.last[0].image.png.startswith(b"\x89PNG")
    steps = len(load_knowledge().guide_steps(lang))
    for index in range(1, steps):
        await chat.press(f"guide:step:{index}")
        assert f"{index + 1}/{steps}" in chat.text
        if "guide:problems:" + str(index) in chat.payloads:
            await chat.press(f"guide:problems:{index}")
            assert "•" in chat.text
    await chat.press("guide:done")
    for path in (
        ["account:no", "account_help:go", "for_whom:me", "age:adult", "purpose:visa"],
        ["account:yes", "for_whom:child"],
        ["account:yes", "for_whom:other"],
        ["account:yes", "for_whom:me", "age:minor"],
    ):
        await chat.press("menu:open:eligibility")
        for step in path:
            await chat.press(f"eligibility:{step}")
        assert as_of in chat.text and chat.last[0].link is not None
    await chat.press("menu:open:fees")
    await chat.press("fees:group:reduced")
    await chat.press("fees:copies:3")
    assert "105.000 đ" in chat.text and as_of in chat.text
    link = chat.last[0].link
    assert link.url.startswith("https://") and "<" not in link.title
    await chat.press("fees:pay")
    assert as_of in chat.text and chat.last[0].link
    await chat.press("fees:failed")
    assert as_of in chat.text
    await chat.press("menu:open:handoff")
    assert "1900 0368" in chat.text
    await chat.press("menu:open:status")
    await chat.say(COMPLETED_CODE)
    await chat.say(LAN_ID)
    assert any(reply.image for reply in chat.last)
    for topic in (
        "account_help",
        "certificate_types",
        "documents_needed",
        "payment_help",
        "processing_time",
        "paper_delivery",
        "validity",
    ):
        await chat.press(f"answers:{topic}")
        assert as_of in chat.text and chat.last[0].link is not None, topic
    await chat.say("482910")
    assert "OTP" in chat.text
