"""Load scenarios for the outbound path, run by the tests in this folder with
small numbers and by `bench/burst.py` with the issue's: the real Telegram
adapter, its outbound queue on a real SQLite file, and the loopback fake
Bot API enforcing Telegram's limits (30/s per bot; per chat 1/s with
bursts of 3) with 429s.

- `telegram_burst`: `users` new citizens send /start spread over
  `spread` seconds, by long polling or webhook.
- `announcement_with_questions`: an announcement to `recipients` citizens
  while `citizens` others each ask `questions` questions.
- `zalo_burst`: the burst on the Zalo Bot channel and its fake, at the
  bot's configured Zalo limits (10/s, 1/s per chat).
- `zalo_oa_burst`: `users` new followers of the Zalo OA write to it within
  `spread` seconds (webhook: the OA has no polling), against its fake at
  the OA's configured limits (10/s, 1/s per chat; Zalo gives no figure).

Each returns the figures as a dict (see `_burst_figures`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette

from bot.broadcast.worker import DeliveryWorker
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import ZaloOaChannel
from bot.config import BroadcastSettings, ChannelRate, ZaloBotSettings
from core.messages import Button, Inbound, Reply
from storage.broadcasts.model import Segment
from storage.broadcasts.store import BroadcastStore
from storage.sql import SqlStorage
from tests.broadcast.conftest import add_citizens
from tests.fakes.flood_limits import RateLimits
from tests.fakes.telegram_api import MESSAGE_METHODS, ApiCall, FakeTelegramApi
from tests.fakes.zalo_bot_api import LoopbackServer, ZaloBotApiFake
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.telegram.conftest import make_channel, webhook_channel
from tests.zalo.conftest import APP_ID, APP_SECRET, OA_SECRET_KEY, make_oa_channel

TELEGRAM_LIMITS = RateLimits(overall_per_second=30, per_chat_per_second=1, per_chat_burst=3)
WELCOME = Reply(
    "Xin chào! Trợ lý giúp bạn xin Phiếu lý lịch tư pháp trên VNeID.",
    buttons=((Button("Bắt đầu", "menu:open"),),),
)
ANNOUNCEMENT = "Thông báo: bộ phận tiếp dân làm việc cả sáng thứ Bảy. / Notice: open on Saturday mornings."
CITIZEN_IDS_FROM = 5_000_000  # citizens asking questions; recipients are 1..N
RETRIES = 10  # webhook deliveries of one update, as Telegram retries them
OA_GREETING = "Xin chào"  # a new follower's first message to the OA


async def answer(inbound: Inbound) -> list[Reply]:
    """A dispatcher that answers at once: the scenarios measure delivery."""
    if inbound.text.startswith("/start"):
        return [WELCOME]
    return [Reply(f"Trả lời: {inbound.text}")]


@contextlib.asynccontextmanager
async def _storage(url: str) -> AsyncIterator[SqlStorage]:
    storage = SqlStorage(url)
    await storage.init()
    try:
        yield storage
    finally:
        await storage.close()


@contextlib.asynccontextmanager
async def _polling(api: FakeTelegramApi, storage: SqlStorage) -> AsyncIterator[TelegramChannel]:
    channel = make_channel(api, storage=storage, typing_delay_seconds=5)
    await channel.start(answer)
    await asyncio.wait_for(channel.ready.wait(), 10)
    try:
        yield channel
    finally:
        await channel.stop()


def _deliveries(api: FakeTelegramApi) -> list[ApiCall]:
    return [call for call in api.calls if call.method in MESSAGE_METHODS]


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def telegram_burst(
    users: int, storage_url: str, *, webhook: bool, spread: float = 1.0, settle_seconds: float = 1.0
) -> dict[str, Any]:
    """`users` new citizens send /start within `spread` seconds."""
    async with FakeTelegramApi(rate_limits=TELEGRAM_LIMITS) as api, _storage(storage_url) as storage:
        if webhook:
            async with webhook_channel(api, answer, storage=storage) as channel:
                return await _burst(api, channel, users, spread, settle_seconds)
        async with _polling(api, storage) as channel:
            return await _burst(api, channel, users, spread, settle_seconds)


async def _burst(
    api: FakeTelegramApi, channel: TelegramChannel, users: int, spread: float, settle_seconds: float
) -> dict[str, Any]:
    start = time.monotonic()
    asked_at = await _arrivals(
        users, spread, lambda number: str(CITIZEN_IDS_FROM + number), lambda chat: _start(api, int(chat))
    )
    limit_minimum = users / TELEGRAM_LIMITS.overall_per_second
    with contextlib.suppress(AssertionError):
        await api.wait_for(lambda: all(api.bot_messages(chat) for chat in asked_at), timeout=limit_minimum * 2 + 30)
    await asyncio.sleep(settle_seconds)  # anything sent twice would show now
    calls = _deliveries(api)
    delivered = [call for call in calls if call.status == 200 and call.chat_id in asked_at]
    figures = _burst_figures(
        [(str(call.chat_id), call.at) for call in delivered],
        asked_at,
        start,
        sends=len(calls),
        limited=sum(call.status == 429 for call in calls),
        limit_minimum=limit_minimum,
        given_up=channel._delivery.queue.given_up,
    )
    figures["in_webhook_response"] = sum(call.in_webhook_response for call in delivered)
    return figures


async def _arrivals(
    users: int, spread: float, chat_of: Callable[[int], str], write: Callable[[str], Awaitable[Any]]
) -> dict[str, float]:
    """Citizen `number` writes (`write(chat)`) `number * spread / users`
    seconds in; returns when each one wrote, by chat."""
    asked_at: dict[str, float] = {}

    async def new_citizen(number: int) -> None:
        await asyncio.sleep(number * spread / users)
        chat = chat_of(number)
        asked_at[chat] = time.monotonic()
        await write(chat)

    await asyncio.gather(*(new_citizen(number) for number in range(users)))
    return asked_at


async def _start(api: FakeTelegramApi, user_id: int) -> None:
    """The citizen's /start, by long polling or webhook."""
    message = {**api._user_message(user_id, "vi", "Lan"), "text": "/start"}
    message["entities"] = [{"type": "bot_command", "offset": 0, "length": len("/start")}]
    update = {"update_id": user_id, "message": message}
    await _until_taken(lambda: api.replay(update))


async def _until_taken(post: Callable[[], Awaitable[int | None]]) -> None:
    """Post an update again while the webhook request fails (a loaded
    machine may not accept a connection in time), as the platforms do."""
    for _ in range(RETRIES):
        try:
            status = await post()
        except httpx.HTTPError:
            status = 503
        if status is None or status < 500:
            return
        await asyncio.sleep(1.0)
    raise AssertionError("the bot never took the update")


def _burst_figures(
    delivered: list[tuple[str, float]],
    asked_at: dict[str, float],
    start: float,
    *,
    sends: int,
    limited: int,
    limit_minimum: float,
    given_up: Counter[str],
) -> dict[str, Any]:
    """The figures of a burst from the messages the fake accepted for the
    citizens (chat, when), in order: answered, the last answer against
    the limit's minimum, latency, 429s among `sends`, duplicates."""
    per_chat = Counter(chat for chat, _ in delivered)
    first_answer: dict[str, float] = {}
    for chat, at in delivered:
        first_answer.setdefault(chat, at)
    latencies = [first_answer[chat] - asked_at[chat] for chat in first_answer]
    return {
        "users": len(asked_at),
        "answered": len(first_answer),
        "last_answer_s": round(max(first_answer.values(), default=start) - start, 2),
        "limit_minimum_s": round(limit_minimum, 1),
        "latency_p50_s": round(_percentile(latencies, 0.5), 2),
        "latency_p99_s": round(_percentile(latencies, 0.99), 2),
        "sends": sends,
        "answered_429": limited,
        "share_429": round(limited / max(1, sends), 4),
        "duplicates": sum(count - 1 for count in per_chat.values()),
        "given_up": dict(given_up),
    }


async def announcement_with_questions(
    recipients: int,
    citizens: int,
    questions: int,
    storage_url: str,
    *,
    think_seconds: tuple[float, float] = (0.5, 2.0),
    seed: int = 18,
) -> dict[str, Any]:
    """An announcement to `recipients` while `citizens` others ask
    `questions` questions each, waiting for each answer, then thinking."""
    rng = random.Random(seed)
    settings = BroadcastSettings(poll_seconds=0.2, lease_seconds=30, rates={"telegram": ChannelRate(per_second=30)})
    async with FakeTelegramApi(rate_limits=TELEGRAM_LIMITS) as api, _storage(storage_url) as storage:
        await add_citizens(storage, recipients)
        async with _polling(api, storage) as channel:
            store = BroadcastStore(storage)
            worker = DeliveryWorker(store, {"telegram": channel}, settings)
            broadcast = await store.create(created_by="bench", text=ANNOUNCEMENT, segment=Segment())
            delivering = asyncio.create_task(worker.run(exit_when_idle=True))
            latencies: list[float] = []

            async def citizen(number: int) -> None:
                chat = CITIZEN_IDS_FROM + number
                await asyncio.sleep(rng.uniform(0, think_seconds[1]))
                for question in range(questions):
                    asked = time.monotonic()
                    await api.user_says(f"câu hỏi {question}", user_id=chat)
                    await api.wait_for(lambda before=question: len(api.bot_messages(chat)) > before, timeout=120)
                    latencies.append(time.monotonic() - asked)
                    await asyncio.sleep(rng.uniform(*think_seconds))

            await asyncio.gather(*(citizen(number) for number in range(citizens)))
            await asyncio.wait_for(delivering, timeout=recipients / 20 + 60)
            report = await store.report(broadcast.id)
    announced = [
        call for call in _deliveries(api) if call.status == 200 and call.chat_id and int(call.chat_id) <= recipients
    ]
    per_recipient = Counter(call.chat_id for call in announced)
    times = [call.at for call in announced]
    run = max(times) - min(times) if len(times) > 1 else 0.0
    return {
        "recipients": recipients,
        "announced": len(per_recipient),
        "announcement_rate_per_s": round(len(announced) / run, 1) if run else 0.0,
        "announcement_duplicates": sum(count - 1 for count in per_recipient.values()),
        "questions": len(latencies),
        "reply_p50_s": round(statistics.median(latencies), 2) if latencies else 0.0,
        "reply_p99_s": round(_percentile(latencies, 0.99), 2),
        "answered_429": sum(call.status == 429 for call in _deliveries(api)),
        "report": {state.value: count for state, count in report.counts.items()} if report else {},
    }


# --- Zalo Bot and Zalo OA ----------------------------------------------------
ZALO_TOKEN = "1459232241454765289:bench-token"
ZALO_LIMITS = RateLimits(overall_per_second=10, per_chat_per_second=1, per_chat_burst=1)  # the bot's defaults
ZaloChannel = TypeVar("ZaloChannel", ZaloBotChannel, ZaloOaChannel)
# Zalo's OA documentation gives no per-second figure: the OA's configured
# rate (broadcast.rates.zalo_oa) is what its fake enforces.
OA_RATE = BroadcastSettings().rate_for("zalo_oa")
ZALO_OA_LIMITS = RateLimits(
    overall_per_second=int(OA_RATE.per_second),
    per_chat_per_second=int(OA_RATE.per_chat_per_second),
    per_chat_burst=OA_RATE.per_chat_burst,
)


@contextlib.asynccontextmanager
async def _serving(make_channel: Callable[[str], ZaloChannel]) -> AsyncIterator[ZaloChannel]:
    """The channel `make_channel(base_url)` makes, started, its webhook
    routes served on a loopback port (`base_url`)."""
    app = Starlette()
    server = LoopbackServer(app)
    base_url = await server.start()
    channel = make_channel(base_url)
    app.router.routes.extend(channel.routes())
    await channel.start(answer)
    try:
        yield channel
    finally:
        await channel.stop()
        await server.stop()


async def zalo_burst(users: int, storage_url: str, *, webhook: bool, spread: float = 1.0) -> dict[str, Any]:
    """`users` new citizens send /start to the Zalo Bot within `spread`
    seconds, against the fake enforcing the bot's configured limits."""
    async with (
        ZaloBotApiFake(ZALO_TOKEN, rate_limits=ZALO_LIMITS) as zalo,
        _storage(storage_url) as storage,
    ):

        def make_channel(base_url: str) -> ZaloBotChannel:
            settings = ZaloBotSettings(
                poll_timeout_seconds=1, webhook_url=f"{base_url}/zalo/bot/webhook" if webhook else ""
            )
            return ZaloBotChannel(
                ZALO_TOKEN,
                settings,
                None,
                base_url=zalo.base_url,
                webhook_secret="webhook-secret-123",
                storage=storage,
                rate=ChannelRate(per_second=ZALO_LIMITS.overall_per_second, per_chat_per_second=1),
            )

        async with _serving(make_channel) as channel:
            return await _zalo_figures(
                zalo,
                channel,
                users,
                spread,
                lambda number: f"zalo-{number}",
                lambda chat: zalo.user_says(chat, "/start"),
                lambda: [(sent.chat_id, sent.at) for sent in zalo.state.sent],
                ZALO_LIMITS.overall_per_second,
            )


async def zalo_oa_burst(users: int, storage_url: str, *, spread: float = 1.0) -> dict[str, Any]:
    """`users` new followers of the OA write to it within `spread` seconds
    (the OA receives by webhook only), against the fake enforcing the OA's
    configured limits."""
    async with (
        ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET, rate_limits=ZALO_OA_LIMITS) as zalo,
        _storage(storage_url) as storage,
    ):

        def make_channel(base_url: str) -> ZaloOaChannel:
            zalo.webhook_url = f"{base_url}/zalo/oa/webhook"
            return make_oa_channel(zalo, storage, rate=OA_RATE)

        async def greet(chat: str) -> None:  # Zalo delivers the event again while the webhook fails
            await _until_taken(lambda: zalo.user_says(chat, OA_GREETING, msg_id=f"hello-{chat}"))

        async with _serving(make_channel) as channel:
            return await _zalo_figures(
                zalo,
                channel,
                users,
                spread,
                lambda number: f"oa-{number}",
                greet,
                lambda: [(sent.user_id, sent.at) for sent in zalo.sent],
                ZALO_OA_LIMITS.overall_per_second,
            )


async def _zalo_figures(
    zalo: ZaloBotApiFake | ZaloOaApiFake,
    channel: ZaloBotChannel | ZaloOaChannel,
    users: int,
    spread: float,
    chat_of: Callable[[int], str],
    write: Callable[[str], Awaitable[Any]],
    delivered: Callable[[], list[tuple[str, float]]],
    per_second: int,
) -> dict[str, Any]:
    """The burst on a Zalo channel: the citizens write, then the figures
    once all are answered (or the wait ran out), from the messages the
    fake accepted (`delivered()`: chat, when), at the fake's `per_second`."""
    start = time.monotonic()
    asked_at = await _arrivals(users, spread, chat_of, write)
    limit_minimum = users / per_second
    await zalo.wait_until(lambda: {chat for chat, _ in delivered()} >= asked_at.keys(), limit_minimum * 2 + 30)
    await asyncio.sleep(1.0)  # anything sent twice would show now
    sent = delivered()
    return _burst_figures(
        sent,
        asked_at,
        start,
        sends=len(sent) + zalo.rate_limited,
        limited=zalo.rate_limited,
        limit_minimum=limit_minimum,
        given_up=channel.queue.given_up,
    )
