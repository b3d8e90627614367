"""What the channel does when Telegram says no: blocked users, flood
control, network trouble; for answers and for messages the bot starts."""

from __future__ import annotations

import pytest

from bot.channels.base import RateLimited, TransientError, UserUnreachable
from bot.dispatcher import Dispatcher
from core.messages import Image, Reply
from tests.flows.helpers import make_services
from tests.telegram.conftest import make_channel
from tests.telegram.test_polling import tiny_png


async def test_a_user_who_blocked_the_bot_is_marked_unreachable(api, storage):
    await storage.get_or_create_user("telegram", "42", "42")
    channel = make_channel(api, storage=storage)
    api.block(42)
    with pytest.raises(UserUnreachable):
        await channel.send("42", [Reply(text="Hồ sơ của bạn đã có kết quả.")])
    assert (await storage.get_user("telegram", "42")).unreachable
    await channel.stop()  # as `troly broadcast` does: send without start, then stop


async def test_a_blocked_user_who_starts_again_is_reachable_again(api, storage):
    user = await storage.get_or_create_user("telegram", "42", "42")
    user.unreachable = True
    await storage.save_user(user)
    channel = make_channel(api, storage=storage)
    await channel.start(Dispatcher(make_services(storage)).handle)  # the turn that reads the user saves it
    try:
        await api.user_says("/start")
        await api.wait_for(lambda: api.bot_messages())
        assert not (await storage.get_user("telegram", "42")).unreachable
    finally:
        await channel.stop()


async def test_bot_started_send_reports_flood_control_with_retry_after(api):
    channel = make_channel(api)
    api.fail("sendMessage", status=429, retry_after=7)
    with pytest.raises(RateLimited) as raised:
        await channel.send("42", [Reply(text="Thông báo")])
    assert raised.value.retry_after == 7
    assert not api.bot_messages()
    await channel.stop()


async def test_an_answer_waits_out_flood_control_then_arrives(api, polling):
    api.fail("sendMessage", status=429, retry_after=1)
    await api.user_says("xin chào")
    await api.wait_for(lambda: api.bot_messages(), timeout=5)
    failed, delivered = api.calls_to("sendMessage", ok_only=False)
    assert failed.status == 429 and delivered.status == 200
    assert delivered.at - failed.at >= 0.95  # waited retry_after


async def test_network_errors_are_retried_with_backoff(api):
    channel = make_channel(api)
    api.fail("sendMessage", status=500, times=2)
    await channel.send("42", [Reply(text="Hồ sơ đã được tiếp nhận.")])
    assert api.last_bot_message().text == "Hồ sơ đã được tiếp nhận."
    assert [call.status for call in api.calls_to("sendMessage", ok_only=False)] == [500, 500, 200]
    await channel.stop()


async def test_persistent_network_errors_become_transient_error(api):
    channel = make_channel(api)
    api.fail("sendMessage", status=502, times=10)
    with pytest.raises(TransientError):
        await channel.send("42", [Reply(text="Thông báo")])
    assert len(api.calls_to("sendMessage", ok_only=False)) == 4  # first try + 3 retries
    await channel.stop()


async def test_an_unreachable_bot_api_at_start_is_retried_until_it_answers(api, dispatcher):
    api.fail("getMe", status=502, times=3)
    channel = make_channel(api)
    await channel.start(dispatcher)
    try:
        await api.wait_for(lambda: channel.ready.is_set())
        await api.user_says("xin chào")
        await api.wait_for(lambda: api.bot_messages())
    finally:
        await channel.stop()


async def test_a_wrong_token_turns_telegram_off_without_crashing(api, dispatcher):
    channel = make_channel(api, token="1:mistyped")
    await channel.start(dispatcher)
    reason = await api.wait_for(lambda: channel.disabled_reason)
    assert "TELEGRAM_BOT_TOKEN" in reason and not channel.ready.is_set()
    await channel.stop()


async def test_the_bot_token_never_reaches_the_logs(api, polling, caplog):
    caplog.set_level("DEBUG")
    caplog.set_level("DEBUG", logger="httpx")  # `troly` keeps it at WARNING (bot/cli.py); tests may run it first
    await api.user_says("xin chào")
    await api.wait_for(lambda: api.bot_messages())
    assert "HTTP Request: POST" in caplog.text  # httpx did log the requests...
    assert api.token not in caplog.text and api.token.split(":")[1] not in caplog.text  # ...without the token


async def test_a_webhook_url_telegram_refuses_turns_telegram_off_with_an_error(api, dispatcher):
    api.fail("setWebhook", status=400, description="Bad Request: bad webhook: HTTPS url must be provided for webhook")
    channel = make_channel(api, webhook_url="http://example.org/telegram/webhook")
    await channel.start(dispatcher)
    reason = await api.wait_for(lambda: channel.disabled_reason)
    assert not channel.ready.is_set() and "https url must be provided" in reason.lower()
    await channel.stop()


async def test_a_user_who_blocks_the_bot_mid_conversation_is_marked_unreachable(api, storage, dispatcher):
    channel = make_channel(api, storage=storage)
    await channel.start(dispatcher)
    try:
        await api.user_says("/start")
        await api.wait_for(lambda: api.bot_messages())
        await storage.get_or_create_user("telegram", "42", "42")  # the dispatcher would have created it
        api.block(42)
        await api.user_says("xin chào")
        await api.wait_for(lambda: len(dispatcher.inbounds) == 2)
        await channel.drain()
        assert (await storage.get_user("telegram", "42")).unreachable
        assert len(api.bot_messages()) == 1
    finally:
        await channel.stop()


async def test_flood_control_in_the_middle_of_a_reply_does_not_send_its_first_part_again(api):
    """A picture then a text too long for its caption: Telegram takes the
    picture and says 429 to the text. The text waits its turn; raised, the
    caller's retry (the queue, a broadcast) would send the picture again."""
    channel = make_channel(api)
    api.fail("sendMessage", status=429, retry_after=1)
    reply = Reply(text="Hướng dẫn chi tiết. " * 80, image=Image(png=tiny_png(), alt="Mã QR", key="qr/LLTP-0001"))
    await channel.send("42", [reply])
    await channel.stop()
    assert len(api.calls_to("sendPhoto")) == 1
    assert [call.status for call in api.calls_to("sendMessage", ok_only=False)] == [429, 200]
