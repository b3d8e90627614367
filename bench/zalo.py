"""Benchmark: both Zalo adapters end to end over loopback HTTP, with an
instant dialogue (so the numbers are the adapters' own cost): 50 users each
sending 10 messages, through Zalo Bot polling and Zalo OA signed webhooks.
Prints one JSON object: messages answered per second and p50/p99 time from
the user's message to the bot's answer (ms), per channel; plus the time to
serve one signed media link."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from bot.channels.zalo_bot import ZaloBotChannel  # noqa: E402
from bot.channels.zalo_oa import ZaloOaChannel  # noqa: E402
from bot.channels.zalo_oa_oauth import OaTokens  # noqa: E402
from bot.config import ZaloBotSettings, ZaloOaSettings  # noqa: E402
from bot.media import MediaStore  # noqa: E402
from core.messages import Image, Reply  # noqa: E402
from storage.oa_tokens import OaTokenStore, TokenPair  # noqa: E402
from storage.sql import SqlStorage  # noqa: E402
from tests.fakes.zalo_bot_api import LoopbackServer, ZaloBotApiFake  # noqa: E402
from tests.fakes.zalo_oa_api import ZaloOaApiFake  # noqa: E402

USERS, MESSAGES = 50, 10


async def echo(inbound):
    return [Reply(text=f"echo {inbound.text}")]


def summary(latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)
    return {
        "messages": len(ordered),
        "per_second": round(len(ordered) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
    }


async def drive(say, wait_for) -> dict:
    """Each user sends a message and waits for its answer, MESSAGES times."""
    latencies: list[float] = []

    async def user(n: int) -> None:
        for m in range(MESSAGES):
            sent = time.perf_counter()
            await say(f"user{n}", f"tin {m}")
            await wait_for(f"user{n}", m + 1)
            latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(USERS)))
    return summary(latencies, time.perf_counter() - started)


async def bench_bot() -> dict:
    token = "1:bench"
    async with ZaloBotApiFake(token, poll_wait_cap=0.5) as zalo:
        channel = ZaloBotChannel(token, ZaloBotSettings(poll_timeout_seconds=1), None, base_url=zalo.base_url)
        await channel.start(echo)
        try:
            return await drive(zalo.user_says, lambda user, count: zalo.wait_for_messages(user, count, timeout=30))
        finally:
            await channel.stop()


async def bench_oa(directory: Path) -> dict:
    storage = SqlStorage(f"sqlite+aiosqlite:///{directory}/bench.sqlite3")
    await storage.init()
    app = Starlette()
    server = LoopbackServer(app)
    base = await server.start()
    async with ZaloOaApiFake("app", "oa-secret", "app-secret") as zalo:
        access, refresh = zalo.issue_tokens()
        tokens = OaTokens(
            OaTokenStore(storage, "zalo_oa:app"),
            zalo.base_url,
            "app",
            "app-secret",
            refresh_margin=timedelta(minutes=10),
            seed=TokenPair(access, datetime.now(UTC) + timedelta(hours=25), refresh),
        )
        channel = ZaloOaChannel(ZaloOaSettings(), storage, "app", "oa-secret", tokens, api_base_url=zalo.base_url)
        app.router.routes.extend(channel.routes())
        zalo.webhook_url = f"{base}/zalo/oa/webhook"
        await channel.start(echo)
        try:
            return await drive(zalo.user_says, lambda user, count: zalo.wait_for_messages(user, count, timeout=30))
        finally:
            await channel.stop()
            await server.stop()
            await storage.close()


async def bench_media(directory: Path) -> dict:
    store = MediaStore(directory / "media", b"bench-secret-0123456789", "http://bench", 3600)
    app = Starlette(routes=store.routes())
    png = b"\x89PNG" + bytes(20_000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        started = time.perf_counter()
        for _ in range(500):
            url = store.url_for(Image(png=png, alt="x", key="x"))
            response = await client.get(url.removeprefix("http://bench"))
            assert response.status_code == 200
        elapsed = time.perf_counter() - started
    return {"links_minted_and_served": 500, "mean_ms": round(elapsed / 500 * 1000, 3)}


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        result = {
            "users": USERS,
            "messages_per_user": MESSAGES,
            "zalo_bot_polling": await bench_bot(),
            "zalo_oa_webhook": await bench_oa(Path(directory)),
            "media_link": await bench_media(Path(directory)),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
