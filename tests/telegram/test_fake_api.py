"""The fake Bot API itself, where other tests and benchmarks rely on it:
Telegram's flood limits (optional) and scripted failures."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot
from telegram.error import Forbidden, RetryAfter

from tests.fakes.telegram_api import FakeTelegramApi, RateLimits


class Clock:
    """A settable clock, so flood-limit tests do not depend on machine speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_flood_limits_allow_one_message_per_second_per_chat():
    clock = Clock()
    async with FakeTelegramApi(rate_limits=RateLimits(), clock=clock) as api:
        async with Bot(api.token, base_url=api.base_url) as bot:
            await bot.send_message(1, "một")
            with pytest.raises(RetryAfter):
                await bot.send_message(1, "hai")
            await bot.send_message(2, "người khác")  # another chat is not held back
            clock.now += 1.0
            await bot.send_message(1, "ba")
        assert [call.status for call in api.calls_to("sendMessage", ok_only=False)] == [200, 429, 200, 200]


async def test_flood_limits_allow_thirty_messages_per_second_overall():
    async with FakeTelegramApi(rate_limits=RateLimits(overall_per_second=30), clock=Clock()) as api:
        async with Bot(api.token, base_url=api.base_url) as bot:
            results = await asyncio.gather(
                *(bot.send_message(chat, "thông báo") for chat in range(1, 41)), return_exceptions=True
            )
        limited = [result for result in results if isinstance(result, RetryAfter)]
        assert len(limited) == 10 and len(api.calls_to("sendMessage")) == 30


async def test_without_rate_limits_nothing_is_throttled():
    async with FakeTelegramApi() as api:
        async with Bot(api.token, base_url=api.base_url) as bot:
            for _ in range(5):
                await bot.send_message(1, "nhanh")
        assert len(api.calls_to("sendMessage")) == 5


async def test_scripted_failures_for_one_chat_only():
    async with FakeTelegramApi() as api:
        api.fail("sendMessage", status=403, chat_id=7)
        async with Bot(api.token, base_url=api.base_url) as bot:
            with pytest.raises(Forbidden):
                await bot.send_message(7, "bị chặn")
            await bot.send_message(8, "bình thường")
            await bot.send_message(7, "lần sau được")
        assert [call.chat_id for call in api.calls_to("sendMessage")] == ["8", "7"]
