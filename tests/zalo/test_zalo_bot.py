"""The Zalo Bot adapter over real HTTP against a loopback fake of the Bot API."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels import ChannelContext
from bot.channels.base import DeliveryError, RateLimited, TransientError, UserUnreachable
from bot.channels.receive import APOLOGY
from bot.channels.zalo_bot import ZaloBotChannel, from_settings
from bot.config import OutboundSettings, Settings, ZaloBotSettings
from core.messages import Image, Reply
from storage.sql import SqlStorage
from tests.fakes.zalo_bot_api import ZaloBotApiFake
from tests.zalo.conftest import TurnThatNeverEnds, guide_pages

TOKEN = "1459232241454765289:test-token-abc"


@pytest.fixture
async def zalo():
    async with ZaloBotApiFake(TOKEN) as fake:
        yield fake


def _channel(zalo, bot_server, webhook: bool = False, secret: str | None = None) -> ZaloBotChannel:
    settings = ZaloBotSettings(
        poll_timeout_seconds=1, webhook_url=f"{bot_server.base_url}/zalo/bot/webhook" if webhook else ""
    )
    channel = ZaloBotChannel(TOKEN, settings, bot_server.media, base_url=zalo.base_url, webhook_secret=secret)
    bot_server.mount(channel.routes())
    return channel


@pytest.fixture
async def polling_channel(zalo, bot_server, dispatcher):
    channel = _channel(zalo, bot_server)
    await channel.start(dispatcher)
    yield channel
    await channel.stop()


@pytest.fixture
async def webhook_channel(zalo, bot_server, dispatcher):
    channel = _channel(zalo, bot_server, webhook=True, secret="webhook-secret-123")
    await channel.start(dispatcher)
    yield channel
    await channel.stop()


async def test_menu_buttons_arrive_as_numbered_options_over_polling(zalo, polling_channel, dispatcher):
    await zalo.user_says("u1", "/start")
    [menu] = await zalo.wait_for_messages("u1", 1)
    assert menu.text.splitlines() == [
        "Chào bạn! Bạn cần gì?",
        "1. Hướng dẫn nộp hồ sơ",
        "2. Lệ phí",
        "3. Tra cứu hồ sơ",
    ]
    assert dispatcher.seen[0].kind == "start"
    assert zalo.state.chat_actions == []  # a quick answer needs no "typing..."

    await zalo.user_says("u1", "2")
    await zalo.wait_for_messages("u1", 2)
    assert dispatcher.seen[1].text == "2"  # the dispatcher maps it to the second option


async def test_webhook_is_registered_with_a_secret_and_processes_updates(zalo, webhook_channel, dispatcher):
    assert zalo.state.webhook_url.endswith("/zalo/bot/webhook")
    assert zalo.state.webhook_secret == "webhook-secret-123"
    status = await zalo.deliver(zalo.text_update("u2", "xin chào"))
    assert status == 200
    [answer] = await zalo.wait_for_messages("u2", 1)
    assert answer.text == "echo xin chào"


@pytest.mark.parametrize("secret", ["", "wrong-secret-123", "webhook-secret-12"])
async def test_webhook_with_a_bad_or_missing_secret_is_rejected_and_not_processed(
    zalo, webhook_channel, dispatcher, secret
):
    status = await zalo.deliver(zalo.text_update("u3", "menu"), secret=secret)
    assert status == 401
    await webhook_channel.drain()  # whatever it had queued has run
    assert dispatcher.seen == []
    assert zalo.messages_to("u3") == []


async def test_a_long_answer_is_split_into_messages_zalo_accepts(zalo, polling_channel):
    await zalo.user_says("u4", "long")
    await zalo.wait_for_messages("u4", 3)
    await polling_channel.drain()  # the whole answer has been sent
    messages = zalo.messages_to("u4")
    assert all(len(message.text) <= 2000 for message in messages)
    assert " ".join(message.text for message in messages).split() == ("Một đoạn văn dài. " * 300).split()


async def test_a_picture_is_sent_as_a_signed_link_zalo_can_fetch(zalo, polling_channel, bot_server):
    await zalo.user_says("u5", "qr")
    [photo] = await zalo.wait_for_messages("u5", 1)
    assert photo.method == "sendPhoto"
    assert photo.photo.startswith(f"{bot_server.base_url}/media/")
    assert photo.photo_status == 200 and photo.photo_bytes.startswith(b"\x89PNG")
    assert photo.text == "Mã QR của bạn"


@pytest.mark.parametrize("event", ["message.sticker.received", "message.image.received"])
async def test_stickers_and_pictures_reach_the_dialogue_as_empty_text(zalo, polling_channel, dispatcher, event):
    await zalo.deliver(zalo.update("u6", event, {"sticker": "0e078a2fb66a5f34067b"}, message_id="st1"))
    [answer] = await zalo.wait_for_messages("u6", 1)
    assert answer.text == "please type"
    [inbound] = dispatcher.seen
    assert (inbound.kind, inbound.text, inbound.update_id) == ("text", "", f"{event}:st1")


async def test_a_redelivered_event_is_answered_once(zalo, polling_channel, dispatcher):
    update = zalo.text_update("u7", "xin chào", message_id="abc123")
    await zalo.deliver(update)
    await zalo.deliver(update)
    await zalo.user_says("u7", "menu")  # after the redelivery, in order
    messages = await zalo.wait_for_messages("u7", 2)
    assert [message.text.splitlines()[0] for message in messages] == ["echo xin chào", "Chào bạn! Bạn cần gì?"]
    assert [inbound.update_id for inbound in dispatcher.seen][0] == "message.text.received:abc123"
    assert len(dispatcher.seen) == 2


async def test_polling_survives_a_server_error(zalo, bot_server, dispatcher):
    zalo.fail_next("getUpdates", 500, "Internal error", http_status=500)
    channel = _channel(zalo, bot_server)
    await channel.start(dispatcher)
    try:
        await zalo.user_says("u8", "menu")
        await zalo.wait_for_messages("u8", 1, timeout=5)
    finally:
        await channel.stop()


@pytest.mark.parametrize(
    ("http_status", "code", "error"),
    [(200, 403, UserUnreachable), (429, 429, RateLimited), (502, 502, TransientError)],
)
async def test_send_reports_what_the_caller_should_do(zalo, bot_server, http_status, code, error):
    channel = _channel(zalo, bot_server)
    zalo.fail_next("sendMessage", code, "refused", http_status=http_status)
    try:
        with pytest.raises(error):
            await channel.send("u9", [Reply(text="Hồ sơ của bạn đã có kết quả.")])
    finally:
        await channel.stop()


async def test_send_reaches_an_unreachable_server_as_transient(bot_server):
    settings = ZaloBotSettings(request_timeout_seconds=1, poll_timeout_seconds=1)
    channel = ZaloBotChannel(TOKEN, settings, bot_server.media, base_url="http://127.0.0.1:9")
    with pytest.raises(TransientError) as raised:
        await channel.send("u9", [Reply(text="x")])
    assert TOKEN not in str(raised.value)
    await channel.stop()


def test_the_channel_is_configured_only_when_a_token_is_set(monkeypatch, tmp_path):
    context = ChannelContext(settings=Settings(), storage=None, media=None)
    monkeypatch.delenv("ZALO_BOT_TOKEN", raising=False)
    assert from_settings(context) is None
    monkeypatch.setenv("ZALO_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ZALO_BOT_BASE_URL", "http://127.0.0.1:1234/")
    channel = from_settings(context)
    assert channel.capabilities.buttons is False
    assert channel.capabilities.max_text_length == 2000
    assert channel.capabilities.image_by == "url"
    assert channel._base_url == "http://127.0.0.1:1234"


async def test_the_token_never_reaches_the_logs(zalo, bot_server, caplog):
    import logging

    channel = _channel(zalo, bot_server)
    caplog.set_level(logging.DEBUG, logger="httpx")  # `troly` keeps it at WARNING (bot/cli.py); tests may run it first
    with caplog.at_level(logging.DEBUG):
        await channel.send("u10", [Reply(text="Hồ sơ của bạn đã có kết quả.")])
        zalo.fail_next("sendMessage", 400, "bad request")
        with pytest.raises(DeliveryError):
            await channel.send("u10", [Reply(text="x")])
    await channel.stop()
    assert any("sendMessage" in record.getMessage() for record in caplog.records)
    assert not any("test-token-abc" in record.getMessage() for record in caplog.records)


async def test_one_users_quick_messages_are_answered_in_the_order_sent(zalo, polling_channel, dispatcher):
    for text in ("một", "hai", "ba", "bốn"):
        await zalo.user_says("u11", text)
    messages = await zalo.wait_for_messages("u11", 4)
    assert [message.text for message in messages] == ["echo một", "echo hai", "echo ba", "echo bốn"]


async def test_a_slow_answer_shows_typing(zalo, bot_server):
    async def slow(inbound):
        await asyncio.sleep(1.0)
        return [Reply(text="xong")]

    channel = _channel(zalo, bot_server)
    await channel.start(slow)
    try:
        await zalo.user_says("u12", "tra cứu")
        await zalo.wait_for_messages("u12", 1)
        assert ("u12", "typing") in zalo.state.chat_actions
    finally:
        await channel.stop()


async def test_a_dispatcher_failure_is_answered_with_an_apology(zalo, bot_server, caplog):
    async def broken(inbound):
        raise RuntimeError("database gone")

    channel = _channel(zalo, bot_server)
    await channel.start(broken)
    try:
        await zalo.user_says("u13", "xin chào")
        [answer] = await zalo.wait_for_messages("u13", 1)
        assert answer.text == APOLOGY
        assert "Xin lỗi" in answer.text and "Sorry" in answer.text
        failure = next(record for record in caplog.records if "dispatcher failed" in record.getMessage())
        assert failure.exc_info is not None  # with its traceback
    finally:
        await channel.stop()


async def test_polling_after_zalo_was_unreachable_at_start_recovers_and_health_says_so(zalo, bot_server, dispatcher):
    zalo.fail_next("deleteWebhook", 502, "Bad gateway", http_status=502)
    channel = _channel(zalo, bot_server)
    await channel.start(dispatcher)
    try:
        assert channel.health.state == "retrying" and "deleteWebhook" in (channel.health.reason or "")
        await zalo.user_says("u14", "menu")
        await zalo.wait_for_messages("u14", 1, timeout=8)  # the retry comes after about a second
        assert channel.health.ok
    finally:
        await channel.stop()


async def test_a_page_that_edits_itself_elsewhere_comes_as_a_new_message(zalo, bot_server):
    """Zalo has no edits: each of the guide's pages arrives at the bottom."""
    channel = _channel(zalo, bot_server)
    await channel.start(guide_pages)
    try:
        for step in ("1", "2"):
            await zalo.user_says("u15", step)
        messages = await zalo.wait_for_messages("u15", 2)
        assert [message.text for message in messages] == ["Bước 1", "Bước 2"]
    finally:
        await channel.stop()


async def test_a_rate_limit_in_the_middle_of_a_reply_does_not_send_its_first_part_again(zalo, bot_server):
    """A picture, then a text too long for its caption: Zalo takes the
    picture and rate-limits the text, which waits its turn instead of
    failing the whole reply (whose retry would send the picture again)."""
    channel = _channel(zalo, bot_server)
    zalo.fail_next("sendMessage", 429, "too many requests", http_status=429)
    reply = Reply(text="Hướng dẫn chi tiết. " * 110, image=Image(png=b"png", alt="Bước 1", key="guide/step-1"))
    try:
        await channel.send("u10", [reply])
    finally:
        await channel.stop()
    assert [message.method for message in zalo.messages_to("u10")] == ["sendPhoto", "sendMessage", "sendMessage"]


@pytest.mark.parametrize("webhook", [True, False], ids=["webhook", "polling"])
async def test_a_message_whose_worker_stops_mid_turn_is_answered_by_the_next_worker(
    zalo, bot_server, dispatcher, tmp_path, webhook
):
    """The webhook answers Zalo while the turn still runs, and getUpdates
    hands an update over once: either way the update is written down; the
    worker then stops for good mid-turn (here: its turn never ends), and
    the next one, on the same database, answers it."""
    storage = SqlStorage(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await storage.init()
    quick = OutboundSettings(lease_seconds=1, poll_seconds=0.1)
    settings = ZaloBotSettings(
        poll_timeout_seconds=1, webhook_url=f"{bot_server.base_url}/zalo/bot/webhook" if webhook else ""
    )
    stuck = TurnThatNeverEnds()
    first = ZaloBotChannel(
        TOKEN, settings, bot_server.media, zalo.base_url, "webhook-secret-123", storage=storage, outbound=quick
    )
    bot_server.mount(first.routes())
    await first.start(stuck)
    second = ZaloBotChannel(
        TOKEN, settings, bot_server.media, zalo.base_url, "webhook-secret-123", storage=storage, outbound=quick
    )
    try:
        assert await zalo.deliver(zalo.text_update("u20", "phí bao nhiêu")) == 200
        await asyncio.wait_for(stuck.started.wait(), 5)
        assert zalo.state.sent == []
        await first._inbox.stop()  # as when its process dies: the row's lease is no longer renewed
        await second.start(dispatcher)
        [answer] = await zalo.wait_for_messages("u20", 1)
        assert answer.text == "echo phí bao nhiêu"
        await asyncio.sleep(1.5)  # past another lease: nobody handles it again
        assert len(zalo.state.sent) == 1
    finally:
        stuck.released.set()
        await second.stop()
        await first.stop()
        await storage.close()
