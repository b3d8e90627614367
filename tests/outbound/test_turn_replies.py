"""A turn's replies are written down in the turn's own transaction
(`bot/outbound/turn_replies.py`), on SQLite and PostgreSQL: a worker that
dies the instant the dispatcher has saved a turn, before its channel could
write or send anything, still leaves the answer to whoever starts next.
Before, the turn was saved (its update recorded as handled) with the
answer nowhere: the citizen never got it, even when the platform delivered
the update again, since a handled update is dropped as a duplicate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.channels.telegram import channel as telegram_channel
from bot.config import ChannelRate, OutboundSettings
from bot.dispatcher import Dispatcher
from bot.outbound.account import account_outbound
from core.messages import Image, Inbound, InboundKind, Reply
from storage.outbound import OutboundStore
from storage.sql import SqlStorage
from tests.fakes.telegram_api import FakeTelegramApi
from tests.flows.helpers import make_services
from tests.postgres import postgres_server_url, postgres_url, storage_url  # noqa: F401  (fixtures)
from tests.telegram.conftest import webhook_channel

QUICK_LEASE = OutboundSettings(lease_seconds=1, poll_seconds=0.1)
START = Inbound("telegram", "4242", "4242", kind=InboundKind.START, update_id="update-1")


@pytest.fixture
async def turn_storage(storage_url: str):
    store = SqlStorage(storage_url)
    await store.init()
    await store.open_turn_connections()  # PostgreSQL: the turn saved in one statement
    yield store
    await store.close()


async def test_an_answer_survives_a_worker_dying_just_after_its_turn_was_saved(turn_storage):
    dispatcher = Dispatcher(make_services(turn_storage))
    sent: list[tuple[str, Reply]] = []

    async def send_reply(chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        sent.append((chat_id, reply))

    def worker():  # a worker's queue for the Telegram bot account
        return account_outbound("telegram", send_reply, turn_storage, ChannelRate(per_second=30), QUICK_LEASE)[1]

    dead = worker()
    with dead.turn_replies(START.chat_id):
        replies = await dispatcher.handle(START)
    assert replies and sent == []  # the worker dies here: nothing delivered, nothing more written

    restarted = worker()
    restarted.start()
    try:
        assert await dispatcher.handle(START) == []  # the platform's redelivery: already handled
        for _ in range(50):
            if sent:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(QUICK_LEASE.lease_seconds + 0.5)  # a second copy would show by now
    finally:
        await restarted.stop()
    assert [(chat, reply.text) for chat, reply in sent] == [(START.chat_id, reply.text) for reply in replies]


async def test_an_answer_in_the_webhook_response_is_not_sent_again_by_the_queue(tmp_path, turn_storage):
    """The row the turn wrote is done once the response carrying its
    answer has gone: its lease lapsing later sends nothing more."""
    dispatcher = Dispatcher(make_services(turn_storage))
    async with (
        FakeTelegramApi() as api,
        webhook_channel(api, dispatcher.handle, turn_storage, webhook_reply_seconds=2, outbound=QUICK_LEASE),
    ):
        await api.user_says("/start")
        await api.wait_for(lambda: api.bot_messages())
        await asyncio.sleep(QUICK_LEASE.lease_seconds + 1)  # a second copy would show by now
        assert await OutboundStore(turn_storage).counts("telegram") == {}
    [greeting] = api.bot_messages()
    assert [call.in_webhook_response for call in api.calls_to("sendMessage")] == [True], greeting


async def test_a_worker_dying_between_the_parts_of_an_answer_leaves_only_the_rest_to_send(turn_storage):
    answer = [Reply("Phần 1"), Reply("Phần 2"), Reply("Phần 3")]
    sent: list[str] = []
    first_sent, hang = asyncio.Event(), asyncio.Event()

    async def dies_after_the_first_part(chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        if sent:
            await hang.wait()  # the worker is killed while sending the second part
        sent.append(reply.text)
        first_sent.set()

    async def send_reply(chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        sent.append(reply.text)

    dying = account_outbound(
        "telegram", dies_after_the_first_part, turn_storage, ChannelRate(per_second=30), QUICK_LEASE
    )[1]
    delivery = asyncio.create_task(dying.deliver("4242", answer))
    await asyncio.wait_for(first_sent.wait(), 5)
    await asyncio.sleep(0.2)  # its bookkeeping is written
    delivery.cancel()

    restarted = account_outbound("telegram", send_reply, turn_storage, ChannelRate(per_second=30), QUICK_LEASE)[1]
    restarted.start()
    try:
        for _ in range(50):
            if len(sent) == 3:
                break
            await asyncio.sleep(0.1)
    finally:
        await restarted.stop()
    assert sent == ["Phần 1", "Phần 2", "Phần 3"]


async def test_a_guide_picture_written_with_its_turn_is_sent_by_whoever_starts_next(turn_storage):
    step = Image(png=b"\x89PNG guide step 1", alt="Màn hình VNeID", key="guide/vi/step-1")
    sent: list[Reply] = []

    async def send_reply(chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        sent.append(reply)

    dead = account_outbound("telegram", send_reply, turn_storage, ChannelRate(per_second=30), QUICK_LEASE)[1]
    with dead.turn_replies("4242") as written:
        row = written.to_write(turn_storage, "telegram", "4242", None, [Reply("Bước 1", image=step)])
        written.written(await turn_storage.save_turn("telegram", "4242", update_id="update-2", replies=row))
    assert written.queued is not None  # the worker dies here, before sending

    restarted = account_outbound("telegram", send_reply, turn_storage, ChannelRate(per_second=30), QUICK_LEASE)[1]
    restarted.start()
    try:
        for _ in range(50):
            if sent:
                break
            await asyncio.sleep(0.1)
    finally:
        await restarted.stop()
    assert sent == [Reply("Bước 1", image=step)]


async def test_an_answer_whose_webhook_response_never_left_goes_with_the_update_s_redelivery(turn_storage, monkeypatch):
    """A worker dies as it writes the webhook response carrying the answer:
    Telegram gets no 200 and delivers the update again. No lease sends the
    riding row meanwhile; once the copy came, another worker sends it, once.
    (Before, the row was deleted just before the response, and the copy was
    dropped as a duplicate: the citizen got nothing.)"""

    def dies_as_it_responds(*args, **kwargs):
        raise RuntimeError("the worker dies")

    async with FakeTelegramApi() as api:
        dying = Dispatcher(make_services(turn_storage))
        async with webhook_channel(api, dying.handle, turn_storage, webhook_reply_seconds=2, outbound=QUICK_LEASE):
            with monkeypatch.context() as patched:
                patched.setattr(telegram_channel, "JSONResponse", dies_as_it_responds)
                update = await api.user_says("/start")
            await asyncio.sleep(QUICK_LEASE.lease_seconds + 1)
            assert api.bot_messages() == []  # the lease lapsed, and nothing went
        restarted = Dispatcher(make_services(turn_storage))
        async with webhook_channel(api, restarted.handle, turn_storage, webhook_reply_seconds=2, outbound=QUICK_LEASE):
            assert await api.replay(update) == 200
            await api.wait_for(lambda: api.bot_messages())
            await asyncio.sleep(QUICK_LEASE.lease_seconds + 1)  # a second copy would show by now
            assert await OutboundStore(turn_storage).counts("telegram") == {}
    assert len(api.bot_messages()) == 1


async def test_an_answer_that_cannot_ride_is_claimable_before_the_webhook_is_acknowledged(turn_storage, monkeypatch):
    """No send slot for the webhook response: the riding row is put in flight
    before the 200, so a worker dying right after it still leaves the
    answer to whoever starts next."""

    async def hangs(chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        await asyncio.Event().wait()  # the worker dies as it sends by the Bot API

    async def no_slot(chat_id: str) -> None:
        return None

    async with FakeTelegramApi() as api:
        dispatcher = Dispatcher(make_services(turn_storage))
        async with webhook_channel(
            api, dispatcher.handle, turn_storage, webhook_reply_seconds=2, outbound=QUICK_LEASE
        ) as dead:
            monkeypatch.setattr(dead._delivery.pacer, "try_acquire", no_slot)
            monkeypatch.setattr(dead._delivery.queue, "send_reply", hangs)
            await api.user_says("/start")  # returns once the webhook is acknowledged
            assert await OutboundStore(turn_storage).counts("telegram") == {"in_flight": 1}
            assert api.bot_messages() == []
        monkeypatch.undo()
        async with webhook_channel(api, dispatcher.handle, turn_storage, webhook_reply_seconds=2, outbound=QUICK_LEASE):
            await api.wait_for(lambda: api.bot_messages())
    assert len(api.bot_messages()) == 1
