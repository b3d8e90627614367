"""Words typed at a step of the fee calculator that answer it are taken as
the answer ("sinh viên", "65 tuổi", "ba bản"); anything else is a question."""

from __future__ import annotations

from domain import fees


async def test_a_group_typed_in_words_fills_the_group_step(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.say("mình là sinh viên")
    assert "fees:copies:1" in chat.payloads  # the copies question: the group was understood
    await chat.say("ba bản")
    assert "105.000 đ" in chat.text


async def test_an_age_of_sixty_or_more_is_the_exempt_group_and_copies_in_the_same_words(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.say("tôi 65 tuổi, lấy 2 bản")
    assert "0 đ" in chat.text


async def test_words_that_are_not_an_answer_go_on_to_the_question_they_ask(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.say("bao lâu thì có kết quả")
    assert "processing_time" in chat.text


def test_each_groups_words_in_the_data_lead_to_that_group_and_nothing_else_does():
    rules = fees.fee_rules()
    for group in fees.GROUPS:
        for mention in rules.groups[group].get("mentions") or ():
            assert rules.group_mentioned(f"tôi là {mention} thì sao") == group, mention
    assert rules.group_mentioned("phí làm phiếu bao nhiêu") is None
    assert rules.group_mentioned("con tôi 17 tuổi") is None  # an age alone says no group below 60
