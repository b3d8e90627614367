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


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_an_answer_shows_the_rules_date_and_when_it_was_last_checked(chat, lang):
    await chat.onboard(lang)
    await chat.press("answers:validity")
    if lang == "vi":
        assert "Theo quy định từ ngày 01/07/2010. Thông tin kiểm tra lần cuối ngày 05/12/2026." in chat.text
        assert "tính đến ngày" not in chat.text
    else:
        assert "Rule in force since 01/07/2010. Last checked on 05/12/2026." in chat.text
    await chat.press("menu:open:handoff")
    assert "05/12/2026" in chat.text


async def test_fee_result_dates_the_rule_not_the_day_asked_and_words_the_fee_as_phi(chat):
    await chat.onboard("vi")
    titles = [button.title for reply in chat.last for button in reply.all_buttons]
    assert "💰 Tính phí" in titles and not any("lệ phí" in title.lower() for title in titles)
    await chat.press("menu:open:fees")
    await chat.press("fees:group:standard")
    await chat.press("fees:copies:0")
    assert "200.000 đ" in chat.text and "Căn cứ: Thông tư 16/2025/TT-BTC" in chat.text
    assert "Theo quy định từ ngày 01/01/2026. Thông tin kiểm tra lần cuối ngày 05/12/2026." in chat.text
    # The TT 117/2026 waiver: level 2 and NQ 66.22 Đ.5(1); possible, never applied.
    assert "Có thể được miễn phí đến hết 28/02/2027" in chat.text and "tài khoản VNeID mức 2" in chat.text
    assert "Điều 5 khoản 1 Nghị quyết 66.22/2026/NQ-CP" in chat.text
    assert "Theo quy định từ ngày 15/08/2026" in chat.text
    await chat.press("fees:failed")
    assert "đừng thanh toán lại" in chat.text and "trả lại" not in chat.text


async def test_exempt_fee_result_names_the_tt_244_list_as_assumed_unchanged(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.press("fees:group:exempt")
    await chat.press("fees:copies:0")
    assert "Căn cứ: danh sách miễn phí của Thông tư 244/2016/TT-BTC, được cho là giữ nguyên" in chat.text
    assert "Căn cứ: Thông tư 16/2025/TT-BTC" not in chat.text
    assert chat.last[0].link.url.startswith("https://lltptructuyen.moj.gov.vn/")


async def test_medium_and_low_facts_are_worded_as_such_in_the_replies(chat):
    await chat.onboard("vi")
    await chat.press("answers:processing_time")  # today is 23/11/2026: Law 107 applies
    assert "Theo thông tin báo chí, từ 01/07/2026 Luật 107/2025/QH15" in chat.text
    await chat.press("menu:open:eligibility")
    await chat.press("eligibility:account:yes")
    await chat.press("eligibility:for_whom:child")
    assert "Theo các hướng dẫn đã đăng" in chat.text
