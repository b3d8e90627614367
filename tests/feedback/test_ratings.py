"""Citizens rate the bot's answers with 👍 / 👎 under each answer."""

from __future__ import annotations

from bot.channels.text import numbered_options


def rating_payloads(chat) -> list[str]:
    return [payload for payload in chat.payloads if payload.startswith("answers:rate:")]


async def ratings(storage) -> list[dict]:
    return [row["props"] for row in await storage.list_events("answer_rated")]


async def test_rating_buttons_appear_under_an_answer_and_record_the_rating(chat, storage):
    await chat.onboard()
    await chat.say("mất bao lâu thì có phiếu?")
    up, down = rating_payloads(chat)
    assert up.endswith(":up") and down.endswith(":down") and ":processing_time:" in up
    # One row, the last one, so the answer's own buttons come first.
    assert [button.payload for button in chat.last[-1].buttons[-1]] == [up, down]

    await chat.press(up)
    assert "Cảm ơn" in chat.text
    assert await ratings(storage) == [{"topic": "processing_time", "rating": "up"}]


async def test_thumbs_down_offers_an_officer_and_the_menu_in_english(chat, storage):
    await chat.onboard(lang="en")
    await chat.say("how long does it take")
    await chat.press(rating_payloads(chat)[1])
    assert "Sorry the answer did not help" in chat.text
    assert set(chat.payloads) == {"menu:open:handoff", "menu:show"}
    assert await ratings(storage) == [{"topic": "processing_time", "rating": "down"}]


async def test_rating_by_typed_number_on_a_channel_without_buttons(chat, storage):
    await chat.onboard()
    await chat.say("bao lâu thì xong")
    shown = numbered_options(chat.last[-1])
    number = next(line.split(".")[0] for line in shown.splitlines() if "Chưa rõ" in line)
    await chat.say(number)
    assert "Xin lỗi vì câu trả lời chưa giúp được" in chat.text
    assert await ratings(storage) == [{"topic": "processing_time", "rating": "down"}]


async def test_a_second_press_on_the_same_answer_is_not_counted_twice(chat, storage):
    await chat.onboard()
    await chat.say("bao lâu")
    up, down = rating_payloads(chat)
    await chat.press(up)
    await chat.press(down)
    assert "đã đánh giá" in chat.text
    await chat.press(up)
    assert await ratings(storage) == [{"topic": "processing_time", "rating": "up"}]
    # A new answer can be rated again.
    await chat.say("bao lâu vậy")
    await chat.press(rating_payloads(chat)[0])
    assert len(await ratings(storage)) == 2


async def test_forged_rating_payloads_get_the_stale_button_answer_and_count_nothing(chat, storage, services):
    stale = services.texts.get("input.stale_button", "vi")
    await chat.onboard()
    await chat.say("bao lâu")
    for forged in (
        "answers:rate:processing_time:99:up",  # an answer never shown
        "answers:rate:not_a_topic:1:up",
        "answers:rate:processing_time:1:sideways",
        "answers:rate:processing_time:-1:up",
        "answers:rate:processing_time:x:up",
        "answers:rate:processing_time:²:up",  # a digit to str.isdigit, not to int()
        "answers:rate:processing_time:1",
        "answers:rate",
    ):
        await chat.press(forged)
        assert stale in chat.text, forged
    assert await ratings(storage) == []


async def test_fee_results_carry_the_rating_pair(chat, storage):
    await chat.onboard()
    await chat.press("menu:open:fees")
    await chat.press("fees:group:standard")
    await chat.press("fees:copies:0")
    up, _down = rating_payloads(chat)
    assert ":fee_result:" in up
    await chat.press(up)
    assert await ratings(storage) == [{"topic": "fee_result", "rating": "up"}]
