"""The Zalo OA adapter over real HTTP against a loopback fake of the Open API
and OAuth v4 server, with the bot's real SQL storage."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image as PILImage

from bot.channels import ChannelContext
from bot.channels.base import UserUnreachable
from bot.channels.receive import APOLOGY
from bot.channels.zalo_oa import MAX_EVENT_BYTES, event_signature, from_settings
from bot.channels.zalo_oa_oauth import ReauthorisationNeeded
from bot.channels.zalo_oa_window import ReplyWindowClosed, ReplyWindowPolicy, Window
from bot.config import ChannelRate, OutboundSettings, Settings, ZaloOaSettings
from core.messages import Button, Image, Reply
from storage.oa_tokens import TokenPair
from tests.fakes.flood_limits import RateLimits
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.zalo.conftest import (
    APP_ID,
    APP_SECRET,
    OA_SECRET_KEY,
    TurnThatNeverEnds,
    fresh_token_pair,
    guide_pages,
    make_oa_channel,
)


@pytest.fixture
async def zalo():
    async with ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET) as fake:
        yield fake


@pytest.fixture
async def channel(zalo, storage, bot_server, dispatcher):
    channel = make_oa_channel(zalo, storage)
    bot_server.mount(channel.routes())
    zalo.webhook_url = f"{bot_server.base_url}/zalo/oa/webhook"
    await channel.start(dispatcher)
    yield channel
    await channel.stop()


# --- conversation ----------------------------------------------------------------------
async def test_following_the_oa_starts_the_conversation_with_real_buttons(zalo, channel, dispatcher):
    assert await zalo.follow("u1") == 200
    [menu] = await zalo.wait_for_messages("u1", 1)
    assert menu.text == "Chào bạn! Bạn cần gì?"
    assert menu.button_titles == ["Hướng dẫn nộp hồ sơ", "Lệ phí", "Tra cứu hồ sơ"]
    assert dispatcher.seen[0].kind == "start"


async def test_pressing_a_button_reaches_the_dispatcher_as_its_payload(zalo, channel, dispatcher):
    await zalo.follow("u2")
    await zalo.wait_for_messages("u2", 1)
    await zalo.user_presses("u2", "Lệ phí")
    [_, answer] = await zalo.wait_for_messages("u2", 2)
    assert dispatcher.seen[-1].kind == "button" and dispatcher.seen[-1].payload == "fees:start"
    assert answer.text == "pressed fees:start"


async def test_more_buttons_than_one_template_holds_follow_in_further_messages(zalo, storage, dispatcher):
    channel = make_oa_channel(zalo, storage, ZaloOaSettings(max_buttons=2))
    await channel.start(dispatcher)
    buttons = tuple(Button(title, title.lower()) for title in "ABCDE")
    await channel.queue.deliver("u3", [Reply(text="Chọn:", buttons=(buttons[:3], buttons[3:]))])
    messages = zalo.messages_to("u3")
    assert [message.button_titles for message in messages] == [["A", "B"], ["C", "D"], ["E"]]
    assert messages[0].text == "Chọn:"
    await channel.stop()


async def test_a_reply_in_several_messages_goes_once_in_order_when_zalo_rate_limits_a_later_one(storage, dispatcher):
    """Zalo refuses a message over its limit (-32); what of the reply went
    before must not go again when the rest waits its turn."""
    chat_limit = RateLimits(overall_per_second=10, per_chat_per_second=1, per_chat_burst=1)
    async with ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET, rate_limits=chat_limit) as zalo:
        # Paced looser than Zalo counts, so the second message is refused.
        channel = make_oa_channel(
            zalo, storage, ZaloOaSettings(max_buttons=2), rate=ChannelRate(per_second=10, per_chat_per_second=5)
        )
        await channel.start(dispatcher)
        try:
            buttons = tuple(Button(title, title.lower()) for title in "ABCDE")
            reply = Reply(text="Chọn:", buttons=(buttons[:3], buttons[3:]))
            with contextlib.suppress(TimeoutError):  # what went, sent again and again, shows below
                await asyncio.wait_for(channel.queue.deliver("u4", [reply]), 10)
            await asyncio.sleep(1.5)  # a repeated message would arrive by now
        finally:
            await channel.stop()
        assert zalo.rate_limited >= 1, "Zalo never refused a message: the test did not test the limit"
        messages = zalo.messages_to("u4")
        assert [message.button_titles for message in messages] == [["A", "B"], ["C", "D"], ["E"]]
        assert channel.queue.given_up == {}


async def test_a_big_picture_is_shrunk_under_1_mb_uploaded_once_and_sent_by_attachment(zalo, channel):
    noise = PILImage.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    assert buffer.tell() > 1_000_000
    picture = Image(png=buffer.getvalue(), alt="QR", key="qr/1")
    await channel.queue.deliver("u4", [Reply(text="Mã QR", image=picture), Reply(image=picture)])
    messages = zalo.messages_to("u4")
    assert [m.attachment_id != "" for m in messages] == [True, False, True]
    assert messages[0].attachment_id == messages[2].attachment_id  # uploaded once
    [upload] = zalo.uploads.values()
    assert len(upload) <= 1_000_000
    assert PILImage.open(io.BytesIO(upload)).size[0] > 100


async def test_stickers_and_pictures_reach_the_dialogue_as_empty_text(zalo, channel, dispatcher):
    await zalo.post_event(zalo.event("user_send_sticker", "u5", message={"msg_id": "m1"}))
    [answer] = await zalo.wait_for_messages("u5", 1)
    assert answer.text == "please type"
    [inbound] = dispatcher.seen
    assert (inbound.kind, inbound.text, inbound.update_id) == ("text", "", "user_send_sticker:m1")


async def test_events_that_are_not_for_the_dialogue_are_acknowledged_and_ignored(zalo, channel, dispatcher):
    assert await zalo.post_event(zalo.event("user_seen_message", "u5b", message={"msg_ids": ["x"]})) == 200
    await channel.drain()
    assert dispatcher.seen == [] and zalo.messages_to("u5b") == []


async def test_unfollowing_marks_the_user_unreachable_and_following_again_undoes_it(zalo, channel, storage):
    await zalo.follow("u6")
    await zalo.wait_for_messages("u6", 1)
    await zalo.unfollow("u6")
    await channel.drain()  # the event has been handled
    assert (await storage.get_user("zalo_oa", "u6")).unreachable
    with pytest.raises(UserUnreachable):
        await channel.send("u6", [Reply(text="Hồ sơ của bạn đã có kết quả.")])
    await zalo.follow("u6")
    await zalo.wait_for_messages("u6", 2)
    assert not (await storage.get_user("zalo_oa", "u6")).unreachable


# --- webhook authenticity ---------------------------------------------------------------
@pytest.mark.parametrize("signature", ["", "mac=0000", "deadbeef"])
async def test_a_webhook_event_without_a_valid_signature_is_rejected_and_not_processed(
    zalo, channel, dispatcher, signature
):
    status = await zalo.post_event(zalo.event("follow", "u7"), signature=signature)
    assert status == 401
    await channel.drain()  # whatever it had queued has run
    assert dispatcher.seen == [] and zalo.messages_to("u7") == []


async def test_a_replayed_old_event_is_rejected_even_with_its_signature(zalo, channel, dispatcher):
    old = zalo.event("follow", "u8", timestamp=str(int((datetime.now(UTC).timestamp() - 3600) * 1000)))
    assert await zalo.post_event(old) == 401
    await channel.drain()  # whatever it had queued has run
    assert dispatcher.seen == []


async def test_a_tampered_body_is_rejected(zalo, channel, dispatcher):
    event = zalo.event("follow", "u9")
    raw_signature = event_signature(APP_ID, b'{"other": "body"}', event["timestamp"], OA_SECRET_KEY)
    assert await zalo.post_event(event, signature=raw_signature) == 401
    assert await zalo.post_event(zalo.event("follow", "u9", app_id="someone-else")) == 401
    await channel.drain()  # whatever it had queued has run
    assert dispatcher.seen == []


async def _post_raw(zalo, raw: bytes, timestamp: str | None) -> httpx.Response:
    """`raw` as the body, signed like Zalo with `timestamp` (None: unsigned)."""
    headers = (
        {} if timestamp is None else {"X-ZEvent-Signature": event_signature(APP_ID, raw, timestamp, OA_SECRET_KEY)}
    )
    async with httpx.AsyncClient() as client:
        return await client.post(zalo.webhook_url, content=raw, headers=headers)


async def test_a_body_is_verified_before_it_is_parsed_and_bad_json_gets_400_not_500(zalo, channel, bot_server):
    # Issue 20, finding 6: unsigned bodies are refused before any parsing,
    # signed ones that are not JSON (or nest thousands deep) get 400, never 500.
    assert (await _post_raw(zalo, b"\xff\xfe not json", None)).status_code == 401
    assert (await _post_raw(zalo, b"[" * 40_000, None)).status_code == 401
    timestamp = zalo.event("follow", "u1")["timestamp"]
    broken = b'{"timestamp": "%s", "event_name": ' % timestamp.encode()
    assert (await _post_raw(zalo, broken, timestamp)).status_code == 400
    nested = b'{"timestamp": "%s", "x": %s%s}' % (timestamp.encode(), b"[" * 20_000, b"]" * 20_000)
    assert (await _post_raw(zalo, nested, timestamp)).status_code == 400


async def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(zalo, channel, bot_server):
    timestamp = zalo.event("follow", "u1")["timestamp"]
    big = b'{"timestamp": "%s", "pad": "%s"}' % (timestamp.encode(), b"x" * (MAX_EVENT_BYTES + 1))
    assert (await _post_raw(zalo, big, timestamp)).status_code == 413

    async def chunks():  # no Content-Length: the stream is cut at the limit
        for _ in range(64):
            yield b" " * (64 * 1024)

    async with httpx.AsyncClient() as client:
        response = await client.post(zalo.webhook_url, content=chunks())
    assert response.status_code == 413


# --- tokens ---------------------------------------------------------------------------------
async def test_an_invalid_access_token_is_refreshed_and_the_message_still_goes_out(zalo, channel, storage):
    await zalo.follow("u10")
    await zalo.wait_for_messages("u10", 1)
    old_refresh = zalo.refresh_token
    zalo.expire_access_tokens()  # Zalo now answers -216
    await channel.send("u10", [Reply(text="Hồ sơ của bạn đã có kết quả.")])
    assert zalo.messages_to("u10")[-1].text == "Hồ sơ của bạn đã có kết quả."
    assert zalo.spent_refresh_tokens == [old_refresh]
    stored = await channel.tokens.store.load()
    assert stored.refresh_token == zalo.refresh_token and stored.refresh_started_at is None


async def test_an_access_token_about_to_expire_is_refreshed_before_use(zalo, storage, bot_server, dispatcher):
    access, refresh = zalo.issue_tokens()
    channel = make_oa_channel(zalo, storage, seed=TokenPair(access, datetime.now(UTC) + timedelta(minutes=5), refresh))
    await channel.start(dispatcher)
    await channel.queue.deliver("u11", [Reply(text="xin chào")])
    assert zalo.spent_refresh_tokens == [refresh]
    assert all(token != access for _, token in zalo.api_calls)  # never sent the old one
    await channel.stop()


async def test_many_senders_at_once_spend_the_refresh_token_once(zalo, channel):
    zalo.expire_access_tokens()
    await asyncio.gather(*(channel.queue.deliver(f"u{n}", [Reply(text="tin")]) for n in range(12, 20)))
    assert len(zalo.spent_refresh_tokens) == 1
    assert all(zalo.messages_to(f"u{n}") for n in range(12, 20))


async def test_a_refused_refresh_token_asks_for_reauthorisation_and_a_new_one_is_adopted(zalo, storage, dispatcher):
    channel = make_oa_channel(zalo, storage, seed=TokenPair("stale", datetime.now(UTC), "refresh-nobody-knows"))
    await channel.start(dispatcher)
    await storage.get_or_create_user("zalo_oa", "u21", "u21")
    with pytest.raises(ReauthorisationNeeded):
        await channel.send("u21", [Reply(text="x")])
    await channel.stop()
    # The officer authorises the OA again and restarts with the new tokens.
    access, refresh = zalo.issue_tokens()
    restarted = make_oa_channel(zalo, storage, seed=TokenPair(access, datetime.now(UTC) + timedelta(hours=25), refresh))
    await restarted.start(dispatcher)
    await restarted.send("u21", [Reply(text="x")])
    assert zalo.messages_to("u21")
    await restarted.stop()


async def test_a_restart_with_the_same_configured_tokens_keeps_the_rotated_ones(zalo, storage, dispatcher):
    access, refresh = zalo.issue_tokens()
    seed = TokenPair(access, datetime.now(UTC) + timedelta(hours=25), refresh)
    first = make_oa_channel(zalo, storage, seed=seed)
    await first.start(dispatcher)
    zalo.expire_access_tokens()
    await first.queue.deliver("u22", [Reply(text="x")])
    await first.stop()
    restarted = make_oa_channel(zalo, storage, seed=seed)  # the environment still holds the spent token
    await restarted.start(dispatcher)
    await restarted.queue.deliver("u22", [Reply(text="y")])
    assert len(zalo.messages_to("u22")) == 2
    assert zalo.spent_refresh_tokens == [refresh]
    await restarted.stop()


# --- reply window --------------------------------------------------------------------
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours_ago", "window"),
    [(1, Window.FREE), (48, Window.FREE), (49, Window.PAID), (24 * 7, Window.PAID), (24 * 7 + 1, Window.CLOSED)],
)
def test_reply_window_is_free_for_48_hours_paid_to_7_days_then_closed(hours_ago, window):
    assert ReplyWindowPolicy().classify(NOW - timedelta(hours=hours_ago), NOW) == window


def test_a_user_who_never_wrote_is_outside_the_window():
    assert ReplyWindowPolicy().classify(None, NOW) == Window.CLOSED


async def _user_last_seen(storage, user_id: str, ago: timedelta) -> None:
    user = await storage.get_or_create_user("zalo_oa", user_id, user_id)
    user.last_seen_at = datetime.now(UTC) - ago
    await storage.save_user(user)


async def test_the_bot_writes_first_only_inside_the_reply_window(zalo, storage, bot_server, dispatcher):
    channel = make_oa_channel(zalo, storage)
    await channel.start(dispatcher)
    await _user_last_seen(storage, "recent", timedelta(hours=47))
    await _user_last_seen(storage, "three-days", timedelta(days=3))
    await _user_last_seen(storage, "gone", timedelta(days=8))
    await channel.send("recent", [Reply(text="Hồ sơ của bạn đã có kết quả.")])
    assert zalo.messages_to("recent")[0].path == "/v3.0/oa/message/cs"
    for user_id, window in (("three-days", Window.PAID), ("gone", Window.CLOSED), ("stranger", Window.CLOSED)):
        with pytest.raises(ReplyWindowClosed) as refused:
            await channel.send(user_id, [Reply(text="x")])
        assert refused.value.window == window
        assert zalo.messages_to(user_id) == []
    await channel.stop()


async def test_an_agency_that_pays_reaches_users_up_to_7_days(zalo, storage, bot_server, dispatcher):
    channel = make_oa_channel(zalo, storage, ZaloOaSettings(send_paid_messages=True))
    await channel.start(dispatcher)
    await _user_last_seen(storage, "three-days", timedelta(days=3))
    await _user_last_seen(storage, "gone", timedelta(days=8))
    await channel.send("three-days", [Reply(text="Nhắc hồ sơ")])
    assert zalo.messages_to("three-days")[0].path == "/v3.0/oa/message/transaction"
    with pytest.raises(ReplyWindowClosed):
        await channel.send("gone", [Reply(text="x")])
    await channel.stop()


# --- configuration -----------------------------------------------------------------------
def test_the_oa_is_configured_only_with_its_credentials(monkeypatch):
    context = ChannelContext(settings=Settings(), storage=None, media=None)
    for name in ("ZALO_OA_APP_ID", "ZALO_OA_SECRET_KEY", "ZALO_OA_ACCESS_TOKEN", "ZALO_OA_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert from_settings(context) is None
    monkeypatch.setenv("ZALO_OA_APP_ID", APP_ID)
    monkeypatch.setenv("ZALO_OA_SECRET_KEY", OA_SECRET_KEY)
    monkeypatch.setenv("ZALO_OA_REFRESH_TOKEN", "r")
    channel = from_settings(context)
    assert channel.capabilities.buttons is True and channel.capabilities.image_by == "upload"


# --- the receive side every channel shares ---------------------------------------------
async def test_a_dispatcher_failure_is_answered_with_an_apology(zalo, storage, bot_server, caplog):
    async def broken(inbound):
        raise RuntimeError("database gone")

    channel = make_oa_channel(zalo, storage)
    bot_server.mount(channel.routes())
    zalo.webhook_url = f"{bot_server.base_url}/zalo/oa/webhook"
    await channel.start(broken)
    try:
        await zalo.user_says("u30", "xin chào")
        [answer] = await zalo.wait_for_messages("u30", 1)
        assert answer.text == APOLOGY
        failure = next(record for record in caplog.records if "dispatcher failed" in record.getMessage())
        assert failure.exc_info is not None  # with its traceback
    finally:
        await channel.stop()


async def test_a_redelivered_event_is_answered_once(zalo, channel, dispatcher):
    await zalo.user_says("u31", "một", msg_id="m-1")
    await zalo.user_says("u31", "một", msg_id="m-1")  # Zalo delivers it again
    await zalo.user_says("u31", "hai", msg_id="m-2")
    messages = await zalo.wait_for_messages("u31", 2)
    await channel.drain()
    assert [message.text for message in zalo.messages_to("u31")] == ["echo một", "echo hai"]
    assert [message.text for message in messages] == ["echo một", "echo hai"]


async def test_a_refused_refresh_token_turns_the_channel_off_with_the_reason(zalo, storage, dispatcher):
    channel = make_oa_channel(zalo, storage, seed=TokenPair("stale", datetime.now(UTC), "refresh-nobody-knows"))
    await channel.start(dispatcher)
    try:
        assert channel.health.state == "off" and "refused the refresh token" in (channel.health.reason or "")
    finally:
        await channel.stop()
    working = make_oa_channel(zalo, storage, seed=TokenPair(*fresh_token_pair(zalo)))
    await working.start(dispatcher)
    try:
        assert working.health.ok
    finally:
        await working.stop()


async def test_a_page_that_edits_itself_elsewhere_comes_as_a_new_message(zalo, storage, bot_server):
    """Zalo has no edits: each of the guide's pages arrives at the bottom."""
    channel = make_oa_channel(zalo, storage)
    bot_server.mount(channel.routes())
    zalo.webhook_url = f"{bot_server.base_url}/zalo/oa/webhook"
    await channel.start(guide_pages)
    try:
        for step in ("1", "2"):
            await zalo.user_says("u32", step)
        messages = await zalo.wait_for_messages("u32", 2)
        assert [message.text for message in messages] == ["Bước 1", "Bước 2"]
    finally:
        await channel.stop()


async def test_an_event_acknowledged_before_its_slow_turn_ended_is_answered_by_the_next_worker(
    zalo, storage, bot_server, dispatcher
):
    """As on the Zalo Bot channel (tests/zalo/test_zalo_bot.py): the worker
    whose turn never ends leaves the event written down, the next one answers."""
    quick = OutboundSettings(lease_seconds=1, poll_seconds=0.1)
    stuck = TurnThatNeverEnds()
    first = make_oa_channel(zalo, storage, outbound=quick)
    bot_server.mount(first.routes())
    zalo.webhook_url = f"{bot_server.base_url}/zalo/oa/webhook"
    await first.start(stuck)
    second = make_oa_channel(zalo, storage, outbound=quick)
    try:
        await zalo.user_says("u40", "phí bao nhiêu")
        assert stuck.started.is_set() and zalo.messages_to("u40") == []
        await first._inbox.stop()  # as when its process dies: the row's lease is no longer renewed
        await second.start(dispatcher)
        [answer] = await zalo.wait_for_messages("u40", 1)
        assert answer.text == "echo phí bao nhiêu"
        await asyncio.sleep(1.5)  # past another lease: nobody handles it again
        assert [message.text for message in zalo.messages_to("u40")] == ["echo phí bao nhiêu"]
    finally:
        stuck.released.set()
        await second.stop()
        await first.stop()
