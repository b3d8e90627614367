"""The Telegram channel in long-polling mode, through python-telegram-bot's
real HTTP stack against the loopback fake Bot API."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.messages import Button, Image, InboundKind, Link, Reply
from tests.telegram.conftest import make_channel


def tiny_png(shade: int = 0) -> bytes:
    import io

    from PIL import Image as PilImage

    buffer = io.BytesIO()
    PilImage.new("RGB", (8, 8), (shade, shade, shade)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_start_sets_command_menus_in_vietnamese_and_english_and_uses_polling(api, polling):
    assert api.calls_to("getMe")
    assert api.calls_to("deleteWebhook")  # getUpdates would fail while a webhook is set
    assert [c["command"] for c in api.commands["vi"]][:3] == ["start", "menu", "help"]
    assert api.commands["vi"][0]["description"] == "Bắt đầu"
    assert api.commands["en"][0]["description"] == "Start"
    assert api.commands[""] == api.commands["vi"]  # users with other languages see Vietnamese
    await api.wait_for(lambda: api.calls_to("getUpdates"))


async def test_text_reaches_dispatcher_with_language_and_the_answer_appears(api, polling, dispatcher):
    await api.user_says("lệ phí bao nhiêu?", language_code="en")
    reply = await api.wait_for(lambda: api.bot_messages())
    assert reply[0].text == "Bạn nói: lệ phí bao nhiêu?"
    inbound = dispatcher.inbounds[0]
    assert (inbound.channel, inbound.user_id, inbound.chat_id) == ("telegram", "42", "42")
    assert inbound.kind is InboundKind.TEXT and inbound.locale == "en" and inbound.update_id


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("/start xa_TanHoa-01", "xa_TanHoa-01"),
        ("/start", ""),
        ("/start bad payload!", ""),  # invalid: ignored politely, still a start
        ("/start " + "a" * 65, ""),  # longer than 64 characters
        ("/start <script>", ""),
    ],
)
async def test_deep_link_start_passes_only_valid_outreach_payloads(api, polling, dispatcher, text, payload):
    await api.user_says(text)
    await api.wait_for(lambda: dispatcher.inbounds)
    assert dispatcher.inbounds[0].kind is InboundKind.START
    assert dispatcher.inbounds[0].payload == payload
    await api.wait_for(lambda: api.bot_messages())  # the user still gets the welcome


async def test_other_commands_reach_the_dispatcher_as_text_without_bot_name(api, polling, dispatcher):
    await api.user_says("/help@troly_test_bot")
    await api.wait_for(lambda: dispatcher.inbounds)
    assert (dispatcher.inbounds[0].kind, dispatcher.inbounds[0].text) == (InboundKind.TEXT, "/help")


async def test_buttons_are_an_inline_keyboard_and_a_press_is_answered_and_dispatched(api, polling, dispatcher):
    menu = Reply(
        text="Bạn cần gì?",
        buttons=((Button("Hướng dẫn", "guide"), Button("Lệ phí", "fee")), (Button("Tra cứu", "status"),)),
    )
    dispatcher.answer = lambda inbound: [menu] if inbound.kind is InboundKind.TEXT else [Reply(text="Lệ phí: ...")]
    await api.user_says("menu")
    message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
    assert message.button_titles == ["Hướng dẫn", "Lệ phí", "Tra cứu"]
    assert [len(row) for row in message.buttons] == [2, 1]

    update = await api.user_presses("Lệ phí")
    await api.wait_for(lambda: len(api.bot_messages()) == 2)
    pressed = dispatcher.inbounds[1]
    assert (pressed.kind, pressed.payload, pressed.update_id) == (InboundKind.BUTTON, "fee", str(update["update_id"]))
    answered = api.calls_to("answerCallbackQuery")
    assert [call.params["callback_query_id"] for call in answered] == [update["callback_query"]["id"]]


async def test_long_button_payload_survives_telegrams_64_byte_limit(api, polling, dispatcher):
    long_payload = "status:" + "x" * 100
    dispatcher.answer = lambda inbound: [Reply(text="Chọn", buttons=((Button("Xem", long_payload),),))]
    await api.user_says("hi")
    await api.wait_for(lambda: api.bot_messages())
    await api.user_presses("Xem")
    await api.wait_for(lambda: len(dispatcher.inbounds) == 2)
    assert dispatcher.inbounds[1].payload == long_payload


async def test_expired_long_button_after_restart_is_answered_politely_not_dispatched(api, dispatcher):
    channel = make_channel(api)
    await channel.start(dispatcher)
    await asyncio.wait_for(channel.ready.wait(), 5)
    try:
        await api.user_says("hi")
        await api.wait_for(lambda: api.bot_messages())
        await api.user_presses_data("~" + "0" * 32, api.last_bot_message())
        answered = await api.wait_for(lambda: api.calls_to("answerCallbackQuery"))
        assert "hết hạn" in answered[0].params["text"]
        assert len(dispatcher.inbounds) == 1
    finally:
        await channel.stop()


async def test_guide_steps_are_edited_in_place_instead_of_flooding_the_chat(api, polling, dispatcher):
    steps = {"guide:1": "Bước 1: mở VNeID", "guide:2": "Bước 2: chọn Thủ tục hành chính"}

    def answer(inbound):
        if inbound.kind is InboundKind.TEXT:
            step = "guide:1"
        else:
            step = inbound.payload
        nav = (Button("Tiếp", "guide:2"),) if step == "guide:1" else (Button("Quay lại", "guide:1"),)
        return [Reply(text=steps[step], buttons=(nav,), edit_key="guide")]

    dispatcher.answer = answer
    await api.user_says("hướng dẫn")
    await api.wait_for(lambda: api.bot_messages())
    await api.user_presses("Tiếp")
    await api.wait_for(lambda: api.calls_to("editMessageText"))
    await api.user_presses("Quay lại")
    await api.wait_for(lambda: len(api.calls_to("editMessageText")) == 2)
    messages = api.bot_messages()
    assert len(messages) == 1 and messages[0].text == "Bước 1: mở VNeID" and messages[0].edits == 2

    # Once the user has typed something, the step comes as a new message they can see.
    await api.user_says("hướng dẫn lại")
    await api.wait_for(lambda: len(api.bot_messages()) == 2)
    assert api.last_bot_message().text == "Bước 1: mở VNeID"


async def test_pressing_the_same_step_again_is_not_an_error(api, polling, dispatcher):
    reply = Reply(text="Bước 1", buttons=((Button("Làm mới", "again"),),), edit_key="guide")
    dispatcher.answer = lambda inbound: [reply]
    await api.user_says("hướng dẫn")
    await api.wait_for(lambda: api.bot_messages())
    await api.user_presses("Làm mới")
    await api.wait_for(lambda: api.calls_to("editMessageText", ok_only=False))
    await polling.drain()
    assert len(api.bot_messages()) == 1  # "message is not modified" is not answered with a duplicate


async def test_photo_is_uploaded_once_then_reused_by_file_id(api, polling, dispatcher):
    qr = Image(png=tiny_png(), alt="Mã QR", key="qr/LLTP-0001")
    dispatcher.answer = lambda inbound: [Reply(text="Quét mã QR này", image=qr)]
    await api.user_says("qr")
    await api.wait_for(lambda: api.bot_messages())
    await api.user_says("qr lần nữa")
    await api.wait_for(lambda: len(api.bot_messages()) == 2)
    first, second = api.calls_to("sendPhoto")
    assert first.files and list(first.files.values())[0] == qr.png  # multipart upload
    assert second.files == {} and second.params["photo"] == api.bot_messages()[0].photo_file_id
    assert api.last_bot_message().text == "Quét mã QR này"


async def test_guide_pictures_are_swapped_in_place(api, polling, dispatcher):
    pictures = {"1": Image(tiny_png(0), "Bước 1", "guide/step-1"), "2": Image(tiny_png(200), "Bước 2", "guide/step-2")}

    def answer(inbound):
        step = inbound.payload if inbound.kind is InboundKind.BUTTON else "1"
        return [Reply(text=f"Bước {step}", image=pictures[step], buttons=((Button("Tiếp", "2"),),), edit_key="guide")]

    dispatcher.answer = answer
    await api.user_says("hướng dẫn")
    await api.wait_for(lambda: api.bot_messages())
    await api.user_presses("Tiếp")
    edit = await api.wait_for(lambda: api.calls_to("editMessageMedia"))
    assert edit[0].files  # the new picture was uploaded within the edit
    message = api.last_bot_message()
    assert len(api.bot_messages()) == 1 and message.text == "Bước 2" and message.edits == 1


async def test_text_over_4096_characters_is_split_between_words(api, polling, dispatcher):
    words = " ".join(f"từ{index}" for index in range(2000))  # about 13,000 characters
    dispatcher.answer = lambda inbound: [Reply(text=words, buttons=((Button("OK", "ok"),),))]
    await api.user_says("dài")
    await api.wait_for(lambda: api.bot_messages() and api.last_bot_message().buttons)
    messages = api.bot_messages()
    assert len(messages) == 4 and all(len(message.text) <= 4096 for message in messages)
    assert " ".join(message.text for message in messages) == words
    assert [bool(message.buttons) for message in messages] == [False, False, False, True]  # under the last part


async def test_html_special_characters_arrive_exactly_as_written(api, polling, dispatcher):
    text = "Phí <50.000đ> & miễn cho hộ nghèo; a<b, **quan trọng**"
    dispatcher.answer = lambda inbound: [Reply(text=text)]
    await api.user_says("phí")
    message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
    assert message.text == "Phí <50.000đ> & miễn cho hộ nghèo; a<b, quan trọng"
    assert "<b>quan trọng</b>" in message.raw


async def test_public_link_is_a_url_button_and_a_local_link_stays_in_the_text(api, polling, dispatcher):
    dispatcher.answer = lambda inbound: [
        Reply(text="Cổng dịch vụ công", link=Link("Mở trang", "https://dichvucong.gov.vn")),
        Reply(text="Xác minh", link=Link("Trang xác minh", "http://127.0.0.1:8090/verify/abc")),
    ]
    await api.user_says("link")
    await api.wait_for(lambda: len(api.bot_messages()) == 2)
    public, local = api.bot_messages()
    assert public.buttons == [[{"text": "Mở trang", "url": "https://dichvucong.gov.vn"}]]
    assert local.text == "Xác minh\n\nTrang xác minh: http://127.0.0.1:8090/verify/abc" and not local.buttons


async def test_slow_answer_shows_typing_and_a_quick_one_does_not(api, dispatcher):
    channel = make_channel(api, typing_delay_seconds=0.2)
    await channel.start(dispatcher)
    await asyncio.wait_for(channel.ready.wait(), 5)
    try:
        await api.user_says("nhanh")
        await api.wait_for(lambda: api.bot_messages())
        assert not api.calls_to("sendChatAction")
        dispatcher.delay = 0.5
        await api.user_says("chậm")
        await api.wait_for(lambda: len(api.bot_messages()) == 2)
        typing = api.calls_to("sendChatAction")
        assert typing and typing[0].params["action"] == "typing" and typing[0].chat_id == "42"
    finally:
        await channel.stop()


async def test_an_overloaded_bot_answers_without_typing_indicators(api, dispatcher):
    channel = make_channel(api, typing_delay_seconds=0.1, typing_max_busy=0)
    await channel.start(dispatcher)
    await asyncio.wait_for(channel.ready.wait(), 5)
    try:
        dispatcher.delay = 0.3
        await api.user_says("chậm")
        await api.wait_for(lambda: api.bot_messages())
        assert not api.calls_to("sendChatAction")
    finally:
        await channel.stop()


async def test_one_chats_messages_are_answered_in_order(api, polling, dispatcher):
    async def answer(inbound):
        await asyncio.sleep(0.3 if inbound.text == "một" else 0)
        return [Reply(text=f"trả lời {inbound.text}")]

    dispatcher.answer = answer
    await api.user_says("một")
    await api.user_says("hai")
    await api.wait_for(lambda: len(api.bot_messages()) == 2)
    assert [message.text for message in api.bot_messages()] == ["trả lời một", "trả lời hai"]


async def test_contact_and_sticker_become_contact_and_empty_text(api, polling, dispatcher):
    await api.user_shares_contact("+84901234567")
    await api.user_sends_sticker()
    await api.wait_for(lambda: len(dispatcher.inbounds) == 2)
    contact, sticker = dispatcher.inbounds
    assert (contact.kind, contact.text) == (InboundKind.CONTACT, "+84901234567")
    assert (sticker.kind, sticker.text) == (InboundKind.TEXT, "")


async def test_a_failing_dispatcher_gets_a_polite_apology_not_silence(api, polling, dispatcher):
    def broken(inbound):
        raise RuntimeError("boom")

    dispatcher.answer = broken
    await api.user_says("xin chào")
    message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
    assert message.text.startswith("Xin lỗi") and "Sorry" in message.text


async def test_polling_keeps_going_after_bot_api_errors(api, polling, dispatcher):
    api.fail("getUpdates", status=502, times=2)
    await api.user_says("còn đó không?")
    await api.wait_for(lambda: api.bot_messages(), timeout=5)
    assert len(api.calls_to("getUpdates", ok_only=False)) > len(api.calls_to("getUpdates"))


async def test_a_restart_does_not_replay_answered_updates(api, dispatcher):
    channel = make_channel(api)
    await channel.start(dispatcher)
    await asyncio.wait_for(channel.ready.wait(), 5)
    await api.user_says("một lần thôi")
    await api.wait_for(lambda: api.bot_messages())
    await channel.stop()

    again = make_channel(api)
    await again.start(dispatcher)
    await asyncio.wait_for(again.ready.wait(), 5)
    await api.wait_for(lambda: len(api.calls_to("getUpdates")) >= 4)
    await again.stop()
    assert len(dispatcher.inbounds) == 1 and len(api.bot_messages()) == 1


@pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates'")  # the channel silences it; pytest resets filters
async def test_an_update_that_cannot_be_read_is_skipped_not_stalled_on(api, polling, dispatcher, caplog):
    caplog.set_level(logging.DEBUG)
    await api.user_says_without_is_bot("số CCCD 001190004567")  # python-telegram-bot cannot read it
    await api.user_says("lệ phí bao nhiêu?")
    await api.wait_for(lambda: api.bot_messages())
    assert [inbound.text for inbound in dispatcher.inbounds] == ["lệ phí bao nhiêu?"]
    assert any("could not be read" in record.getMessage() for record in caplog.records)
    assert not any("001190004567" in record.getMessage() for record in caplog.records)  # nor logged whole
    assert polling.health.ok
