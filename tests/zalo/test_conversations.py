"""Whole conversations (start -> guide -> fee -> status -> QR) on both Zalo
channels: real HTTP between the adapters and loopback fakes of Zalo, the
real dispatcher and flows, the real SQL storage and the mock backend."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import BUTTON_PREFIX
from bot.config import ZaloBotSettings
from bot.dispatcher import Dispatcher
from tests.certificate_pages import HEADINGS, decode_qr, serving, verification_heading
from tests.fakes.zalo_bot_api import ZaloBotApiFake
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.flows.helpers import COMPLETED_CODE, LAN_ID, make_services
from tests.zalo.conftest import APP_ID, APP_SECRET, OA_SECRET_KEY, make_oa_channel

TOKEN = "1459232241454765289:conversation-token"


@pytest.fixture
def real_dispatcher(storage) -> Dispatcher:
    return Dispatcher(make_services(storage))


@contextlib.asynccontextmanager
async def zalo_bot(dispatcher: Dispatcher, bot_server) -> AsyncIterator[tuple[ZaloBotApiFake, ZaloBotChannel]]:
    """A Zalo Bot channel polling a loopback fake, answering through `dispatcher`."""
    async with ZaloBotApiFake(TOKEN) as zalo:
        channel = ZaloBotChannel(
            TOKEN, ZaloBotSettings(poll_timeout_seconds=1), bot_server.media, base_url=zalo.base_url
        )
        await channel.start(dispatcher.handle)
        try:
            yield zalo, channel
        finally:
            await channel.stop()


@contextlib.asynccontextmanager
async def official_account(storage, dispatcher: Dispatcher, bot_server) -> AsyncIterator[tuple[ZaloOaApiFake, Any]]:
    """A Zalo OA channel served by `bot_server`, its webhook called by a loopback fake."""
    async with ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET) as zalo:
        channel = make_oa_channel(zalo, storage)
        bot_server.mount(channel.routes())
        zalo.webhook_url = f"{bot_server.base_url}/zalo/oa/webhook"
        await channel.start(dispatcher.handle)
        try:
            yield zalo, channel
        finally:
            await channel.stop()


class BotUser:
    """A citizen on the Zalo Bot platform: types numbers or words, since the
    platform has no buttons."""

    def __init__(self, zalo: ZaloBotApiFake, channel: ZaloBotChannel, storage, user_id: str) -> None:
        self.zalo, self.channel, self.storage, self.user_id = zalo, channel, storage, user_id
        self.seen = 0

    async def say(self, text: str) -> list:
        """Send a text; the messages it brought (waits for at least one)."""
        await self.zalo.user_says(self.user_id, text)
        await self.zalo.wait_for_messages(self.user_id, self.seen + 1)
        await self.channel.drain()  # the whole answer has arrived
        messages = self.zalo.messages_to(self.user_id)
        new, self.seen = messages[self.seen :], len(messages)
        return new

    async def choose(self, payload: str, by: str, shown: list) -> list:
        """Pick the offered option with `payload`, typing its number or its words."""
        offered = (await self.storage.load_conversation("zalo_bot", self.user_id)).data["offered"]
        number, title = next((n, title) for n, (title, p) in enumerate(offered, start=1) if p == payload)
        assert f"{number}. {title}" in shown[-1].text.splitlines()  # what the user saw
        return await self.say(str(number) if by == "number" else title)


async def test_a_whole_conversation_on_the_zalo_bot_platform(storage, real_dispatcher, bot_server):
    async with zalo_bot(real_dispatcher, bot_server) as (zalo, channel):
        user = BotUser(zalo, channel, storage, "zb-user-1")
        shown = await user.say("/start")
        shown = await user.choose("onboarding:lang:vi", "number", shown)
        shown = await user.choose("onboarding:consent:yes", "words", shown)
        shown = await user.choose("onboarding:province:skip", "number", shown)

        shown = await user.choose("menu:open:guide", "words", shown)  # the guide, with its picture
        photo = next(message for message in shown if message.method == "sendPhoto")
        assert photo.photo.startswith(f"{bot_server.base_url}/media/") and photo.photo_status == 200
        assert "1/3" in "\n".join(message.text for message in shown)
        shown = await user.choose("guide:step:1", "number", shown)
        assert "2/3" in "\n".join(message.text for message in shown)

        await zalo.deliver(zalo.update("zb-user-1", "message.sticker.received", {"sticker": "abc"}))
        await user.say("menu")  # the sticker's "please type" and the menu
        shown = zalo.messages_to("zb-user-1")[-2:]
        assert "Tôi chưa nhận được nội dung" in shown[0].text
        shown = await user.choose("menu:open:fees", "number", shown)
        shown = await user.choose("fees:group:standard", "words", shown)
        shown = await user.say("4")  # paper copies: a number answering a question, not an option
        assert "210.000 đ" in "\n".join(message.text for message in shown)

        await user.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
        shown = await user.say(LAN_ID)
        qr = next(message for message in shown if message.method == "sendPhoto")
        assert qr.photo_status == 200
        async with serving(real_dispatcher.services.backend.service) as mock:  # the QR opens a page that accepts it
            assert await verification_heading(decode_qr(qr.photo_bytes), mock.url) == HEADINGS["valid"]
        assert all(len(message.text) <= 2000 for message in zalo.messages_to("zb-user-1"))


async def test_a_question_as_the_first_message_is_answered_at_once_on_both_zalo_channels(
    storage, real_dispatcher, bot_server
):
    question = "Phiếu mất bao lâu mới có vậy?"  # the fake knowledge answers with its topic's name
    async with zalo_bot(real_dispatcher, bot_server) as (zalo, channel):
        shown = await BotUser(zalo, channel, storage, "zb-first").say(question)
        assert "answer about processing_time" in "\n".join(message.text for message in shown)
    async with official_account(storage, real_dispatcher, bot_server) as (oa, oa_channel):
        shown = await OaUser(oa, oa_channel, "oa-first").say(question)
        assert "answer about processing_time" in "\n".join(message.text for message in shown)


async def test_a_redelivered_zalo_bot_event_is_answered_once(storage, real_dispatcher, bot_server):
    async with zalo_bot(real_dispatcher, bot_server) as (zalo, channel):
        update = zalo.text_update("zb-user-2", "/start", message_id="same-message")
        await zalo.deliver(update)
        first = await zalo.wait_for_messages("zb-user-2", 1)
        await zalo.deliver(update)
        with pytest.raises(TimeoutError):
            await zalo.wait_for_messages("zb-user-2", len(first) + 1, timeout=0.8)


class OaUser:
    """A citizen on the agency's Official Account: presses real buttons."""

    def __init__(self, zalo: ZaloOaApiFake, channel, user_id: str) -> None:
        self.zalo, self.channel, self.user_id, self.seen = zalo, channel, user_id, 0

    async def _new(self) -> list:
        await self.channel.drain()  # the webhook queued the event before answering 200
        messages = self.zalo.messages_to(self.user_id)
        new, self.seen = messages[self.seen :], len(messages)
        return new

    async def follow(self) -> list:
        assert await self.zalo.follow(self.user_id) == 200
        return await self._new()

    async def say(self, text: str) -> list:
        assert await self.zalo.user_says(self.user_id, text) == 200
        return await self._new()

    async def press(self, payload: str, shown: list) -> list:
        titles = {b["payload"]: b["title"] for message in shown for b in message.buttons}
        await self.zalo.user_presses(self.user_id, titles[BUTTON_PREFIX + payload])
        return await self._new()


async def test_a_whole_conversation_on_the_official_account(storage, real_dispatcher, bot_server):
    async with official_account(storage, real_dispatcher, bot_server) as (zalo, channel):
        user = OaUser(zalo, channel, "oa-user-1")
        shown = await user.follow()
        shown = await user.press("onboarding:lang:vi", shown)
        shown = await user.press("onboarding:consent:yes", shown)
        shown = await user.press("onboarding:province:skip", shown)

        shown = await user.press("menu:open:guide", shown)
        assert any(message.attachment_id for message in shown)  # the step's picture, uploaded
        shown = await user.press("guide:step:1", shown)
        assert "2/3" in "\n".join(message.text for message in shown)

        shown = await user.say("menu")
        shown = await user.press("menu:open:fees", shown)
        shown = await user.press("fees:group:standard", shown)
        shown = await user.say("4")
        assert "210.000 đ" in "\n".join(message.text for message in shown)

        zalo.expire_access_tokens()  # a token refresh in the middle does not disturb the user
        await user.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
        shown = await user.say(LAN_ID)
        qr = next(message for message in shown if message.attachment_id)
        async with serving(real_dispatcher.services.backend.service) as mock:  # the QR opens a page that accepts it
            assert await verification_heading(decode_qr(zalo.uploads[qr.attachment_id]), mock.url) == HEADINGS["valid"]
        assert len(zalo.spent_refresh_tokens) == 1
        # The user just wrote: a notification the bot starts itself may go out.
        user_record = await storage.get_user("zalo_oa", "oa-user-1")
        assert datetime.now(UTC) - user_record.last_seen_at < timedelta(minutes=1)
