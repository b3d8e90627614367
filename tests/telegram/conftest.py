"""Fixtures for the Telegram channel: the fake Bot API server, a scripted
dispatcher, and channels wired to both (polling, or webhook served by a
loopback ASGI app)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from starlette.applications import Starlette

from bot.channels.telegram import TelegramChannel
from bot.config import OutboundSettings, TelegramSettings
from core.messages import Inbound, Reply
from tests.fakes.telegram_api import FakeTelegramApi, serve


class ScriptedDispatcher:
    """Stands in for `bot.dispatcher`: records what it was handed and answers
    with `answer(inbound)` (plain or async), optionally slowly."""

    def __init__(
        self, answer: Callable[[Inbound], list[Reply] | Awaitable[list[Reply]]] | None = None, delay: float = 0.0
    ) -> None:
        self.answer = answer or (lambda inbound: [Reply(text=f"Bạn nói: {inbound.text or inbound.payload}")])
        self.delay = delay
        self.inbounds: list[Inbound] = []

    async def __call__(self, inbound: Inbound) -> list[Reply]:
        self.inbounds.append(inbound)
        await asyncio.sleep(self.delay)
        replies = self.answer(inbound)
        return await replies if inspect.isawaitable(replies) else replies


@pytest.fixture
async def api():
    async with FakeTelegramApi() as server:
        yield server


def make_channel(
    api: FakeTelegramApi, storage=None, token: str | None = None, outbound: OutboundSettings | None = None, **settings
) -> TelegramChannel:
    settings.setdefault("polling_timeout_seconds", 1)
    settings.setdefault("typing_delay_seconds", 0.5)
    return TelegramChannel(
        token or api.token,
        TelegramSettings(**settings),
        storage=storage,
        base_url=api.base_url,
        webhook_secret="s3cret-for-tests",
        retry_delay=0.01,
        outbound=outbound,
    )


@pytest.fixture(scope="session")
def nlu_model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("telegram-nlu-model")  # trained once for the session


@pytest.fixture
def dispatcher() -> ScriptedDispatcher:
    return ScriptedDispatcher()


@pytest.fixture
async def polling(api, dispatcher):
    """A channel in long-polling mode, connected."""
    channel = make_channel(api)
    await channel.start(dispatcher)
    await asyncio.wait_for(channel.ready.wait(), 5)
    yield channel
    await channel.stop()


@contextlib.asynccontextmanager
async def webhook_channel(api: FakeTelegramApi, dispatcher, storage=None, **settings) -> AsyncIterator[TelegramChannel]:
    """A channel in webhook mode, its route served by a loopback app and
    registered with the fake Bot API (which then posts updates to it)."""
    channel = make_channel(api, storage=storage, webhook_url="https://placeholder.invalid/telegram/webhook", **settings)
    async with serve(Starlette(routes=channel.routes())) as base_url:
        channel.settings = channel.settings.model_copy(update={"webhook_url": f"{base_url}/telegram/webhook"})
        await channel.start(dispatcher)
        await asyncio.wait_for(channel.ready.wait(), 5)
        yield channel
        await channel.stop()


@pytest.fixture
async def webhook(api, dispatcher):
    async with webhook_channel(api, dispatcher) as channel:
        yield channel
