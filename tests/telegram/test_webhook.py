"""The Telegram channel in webhook mode: served by our own ASGI app, the
secret header checked, duplicates dropped. The fake Bot API posts updates
to the registered URL as Telegram does."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from PIL import Image as PillowImage

from bot.channels import ChannelContext
from bot.channels.receive import APOLOGY
from bot.channels.telegram.channel import SECRET_HEADER, derived_webhook_secret, from_settings
from bot.config import Settings
from bot.outbound.queue import ACK_WAIT_SECONDS
from core.messages import Button, Image, InboundKind, Reply
from tests.telegram.conftest import ScriptedDispatcher, webhook_channel


def _png() -> bytes:
    out = io.BytesIO()
    PillowImage.new("RGB", (8, 8), "white").save(out, "PNG")
    return out.getvalue()


async def test_start_registers_our_webhook_with_its_secret(api, webhook):
    assert api.webhook["url"].endswith("/telegram/webhook")
    assert api.webhook["secret_token"] == "s3cret-for-tests"
    assert set(api.webhook["allowed_updates"]) == {"message", "callback_query"}
    assert int(api.calls_to("setWebhook")[-1].params["max_connections"]) == 100  # each waits for its answer
    assert not api.calls_to("getUpdates")  # no polling in webhook mode


async def test_an_update_posted_by_telegram_is_answered(api, webhook, dispatcher):
    await api.user_says("xin chào")  # the fake posts it to our webhook
    message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
    assert message.text == "Bạn nói: xin chào"
    assert len(dispatcher.inbounds) == 1


@pytest.mark.parametrize(
    "headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: ""}, {SECRET_HEADER: "s3cret-for-test"}]
)
async def test_a_request_without_the_right_secret_gets_401_and_is_not_processed(api, webhook, dispatcher, headers):
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "X"},
            "text": "hi",
        },
    }
    async with httpx.AsyncClient() as client:
        response = await client.post(api.webhook["url"], json=update, headers=headers)
    assert response.status_code == 401
    await webhook.drain()
    assert dispatcher.inbounds == [] and not api.bot_messages()


async def test_a_replayed_update_is_processed_once(api, webhook, dispatcher):
    update = await api.user_says("/start xa_TanHoa")
    await api.wait_for(lambda: api.bot_messages())
    assert await api.replay(update) == 200  # acknowledged, so Telegram stops retrying
    assert await api.replay(update) == 200
    await webhook.drain()
    assert len(dispatcher.inbounds) == 1 and dispatcher.inbounds[0].kind is InboundKind.START
    assert len(api.bot_messages()) == 1


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"no_update_id": true}'])
async def test_garbage_with_the_right_secret_gets_400_not_500(api, webhook, dispatcher, body):
    async with httpx.AsyncClient() as client:
        response = await client.post(api.webhook["url"], content=body, headers={SECRET_HEADER: "s3cret-for-tests"})
    assert response.status_code == 400
    assert dispatcher.inbounds == []


async def test_button_press_by_webhook_is_answered_and_dispatched(api, webhook, dispatcher):
    from core.messages import Button, Reply

    dispatcher.answer = lambda inbound: [Reply(text="Chọn", buttons=((Button("Lệ phí", "fee"),),))]
    await api.user_says("menu")
    await api.wait_for(lambda: api.bot_messages())
    await api.user_presses("Lệ phí")
    await api.wait_for(lambda: len(dispatcher.inbounds) == 2)
    await webhook.drain()
    assert dispatcher.inbounds[1].payload == "fee" and api.calls_to("answerCallbackQuery")


def test_channel_is_off_without_a_token_and_on_with_one(monkeypatch):
    context = ChannelContext(settings=Settings(), storage=None)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert from_settings(context) is None
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    channel = from_settings(context)
    assert channel is not None and channel.routes() == []  # polling by default
    assert channel.bot.base_url == "http://127.0.0.1:8081/bot123:abc"
    assert channel.webhook_secret == derived_webhook_secret("123:abc") != derived_webhook_secret("124:abc")


def test_webhook_path_comes_from_the_url_unless_configured(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "from-env")
    settings = Settings.model_validate({"telegram": {"webhook_url": "https://troly.example.gov.vn/tg/hook"}})
    channel = from_settings(ChannelContext(settings=settings, storage=None))
    assert [route.path for route in channel.routes()] == ["/tg/hook"] and channel.webhook_secret == "from-env"
    settings.telegram.webhook_path = "/internal/telegram"
    assert [route.path for route in channel.routes()] == ["/internal/telegram"]


def test_a_webhook_path_without_leading_slash_is_a_clear_config_error(tmp_path):
    from bot.config import ConfigError, load_settings

    config = tmp_path / "config.yml"
    config.write_text("telegram:\n  webhook_path: telegram/webhook\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="telegram.webhook_path"):
        load_settings(config)


# --- answering in the webhook response (telegram.webhook_reply_seconds) ----


async def test_a_one_message_answer_rides_in_the_webhook_response(api, dispatcher):
    async with webhook_channel(api, dispatcher, webhook_reply_seconds=2):
        await api.user_says("xin chào")
        message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
    assert message.text == "Bạn nói: xin chào"
    [sent] = api.calls_to("sendMessage")
    assert sent.in_webhook_response  # no Bot API request of its own


async def test_buttons_survive_the_webhook_response(api):
    menu = Reply("Chọn một mục", buttons=((Button("Lệ phí", "menu:open:fees"),),))
    dispatcher = ScriptedDispatcher(lambda inbound: [menu])
    async with webhook_channel(api, dispatcher, webhook_reply_seconds=2):
        await api.user_says("menu")
        message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
        assert message.button_titles == ["Lệ phí"]
        await api.user_presses("Lệ phí")
        await api.wait_for(lambda: len(dispatcher.inbounds) == 2)
    assert dispatcher.inbounds[1].payload == "menu:open:fees"


async def test_a_greeting_and_the_menu_go_as_one_message_in_the_webhook_response(api):
    menu = Reply("Bạn cần gì?", buttons=((Button("Lệ phí", "menu:open:fees"),),))
    too_long = Reply("x" * 4000)
    dispatcher = ScriptedDispatcher(lambda inbound: [Reply("Xin chào! 👋"), menu] if inbound.text == "chào" else
                                    [too_long, Reply("y" * 200)])  # fmt: skip
    async with webhook_channel(api, dispatcher, webhook_reply_seconds=2):
        await api.user_says("chào")
        message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
        assert message.text == "Xin chào! 👋\n\nBạn cần gì?" and message.button_titles == ["Lệ phí"]
        assert [call.in_webhook_response for call in api.calls_to("sendMessage")] == [True]
        await api.user_says("dài")  # together over Telegram's 4,096 characters: two messages
        await api.wait_for(lambda: len(api.bot_messages()) == 3)
    assert [len(message.text) for message in api.bot_messages()[1:]] == [4000, 200]


async def test_of_several_messages_the_last_rides_in_the_webhook_response_after_the_others(api):
    picture = Image(key="guide-1", png=_png(), alt="Bước 1")
    dispatcher = ScriptedDispatcher(lambda inbound: [Reply("Bước 1", image=picture), Reply("Tiếp theo?")])
    async with webhook_channel(api, dispatcher, webhook_reply_seconds=2):
        await api.user_says("hướng dẫn")
        await api.wait_for(lambda: len(api.bot_messages()) == 2)
    assert [message.text for message in api.bot_messages()] == ["Bước 1", "Tiếp theo?"]
    sends = [call for call in api.calls if call.method in ("sendPhoto", "sendMessage")]
    assert [(call.method, call.in_webhook_response) for call in sends] == [("sendPhoto", False), ("sendMessage", True)]


async def test_a_photo_last_sends_every_part_by_the_bot_api_in_order(api):
    picture = Image(key="guide-1", png=_png(), alt="Bước 1")
    dispatcher = ScriptedDispatcher(lambda inbound: [Reply("Đây là bước 1"), Reply("Bước 1", image=picture)])
    async with webhook_channel(api, dispatcher, webhook_reply_seconds=2):
        await api.user_says("hướng dẫn")
        await api.wait_for(lambda: len(api.bot_messages()) == 2)
    assert [message.text for message in api.bot_messages()] == ["Đây là bước 1", "Bước 1"]
    assert not any(call.in_webhook_response for call in api.calls)


async def test_an_answer_not_ready_in_time_is_sent_by_the_bot_api(api):
    # Slower than the webhook waits, and than it then waits for the answer to be written down.
    dispatcher = ScriptedDispatcher(delay=ACK_WAIT_SECONDS + 0.5)
    async with webhook_channel(api, dispatcher, webhook_reply_seconds=0.2, typing_delay_seconds=5):
        await api.user_says("chậm thôi")  # returns when the webhook is answered
        assert not api.bot_messages()  # answered empty, the turn still running
        message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
    assert message.text == "Bạn nói: chậm thôi"
    [sent] = api.calls_to("sendMessage")
    assert not sent.in_webhook_response


async def test_an_answer_handed_over_as_the_webhook_stops_waiting_is_still_sent(api, dispatcher, monkeypatch):
    async def answered_as_the_wait_times_out(answer, seconds):
        await answer  # the turn hands its reply over...
        raise TimeoutError  # ...in the instant `wait_for` gives up, which then raises all the same

    async with webhook_channel(api, dispatcher, webhook_reply_seconds=2) as channel:
        monkeypatch.setattr(channel, "_wait_for_turn", answered_as_the_wait_times_out)
        await api.user_says("xin chào")
        message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
    assert message.text == "Bạn nói: xin chào"
    [sent] = api.calls_to("sendMessage")
    assert sent.in_webhook_response


async def test_a_failing_turn_answers_the_webhook_at_once_with_the_apology(api):
    async def broken(inbound):
        raise RuntimeError("boom")

    async with webhook_channel(api, ScriptedDispatcher(broken), webhook_reply_seconds=5) as channel:
        started = asyncio.get_running_loop().time()
        await api.user_says("xin chào")
        waited = asyncio.get_running_loop().time() - started
        message = await api.wait_for(lambda: api.bot_messages() and api.last_bot_message())
        await channel.drain()
    assert message.text == APOLOGY
    assert waited < 2  # not held for the whole 5 s
