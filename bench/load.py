"""Load test: simulated Telegram users through the webhook of two
`troly run --worker` processes sharing one PostgreSQL database.

Everything runs on loopback and stops by itself: a throwaway PostgreSQL
cluster (durable commits: fsync on), the mock backend, the fake Telegram
Bot API (tests/fakes) which also plays the users, and the two workers.

Each user sends `--messages` texts (a /start, then typical questions), one
every `--think` seconds, waiting for the bot's answer before the next, so
the offered load is users / think messages per second (1,000 / 2 s = 500/s).
Updates alternate between the two workers, as a round-robin reverse proxy
would. A message's latency is from posting its update to the webhook until
the fake Bot API receives the bot's first reply to that chat. An error is a
webhook answer other than 200, no reply within `--reply-timeout` seconds,
or the bot's apology.

    .venv/bin/python bench/load.py [--users 1000] [--messages 20] [--think 2]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from backend.server import create_app, start_server  # noqa: E402
from backend.service import MockSettings  # noqa: E402
from bot.channels.telegram import APOLOGY  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramApi  # noqa: E402
from tests.faults.cluster import WEBHOOK_SECRET, start_worker, worker_environment, write_worker_config  # noqa: E402
from tests.postgres import ThrowawayPostgres, postgres_bindir  # noqa: E402

QUESTIONS = [
    "lệ phí làm phiếu lý lịch tư pháp bao nhiêu",
    "cần giấy tờ gì",
    "làm bao lâu thì có kết quả",
    "hướng dẫn làm trên vneid",
    "menu",
    "cảm ơn",
    "phiếu số 2 là gì",
    "xin chào",
    "tôi muốn gặp cán bộ",
    "trợ giúp",
]
REPLY_METHODS = {"sendMessage", "sendPhoto"}


class TimedTelegramApi(FakeTelegramApi):
    """The fake Bot API, telling waiting users when the bot answers them."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[str, asyncio.Future] = {}
        self.last_reply: dict[str, str] = {}

    def _record(self, method, params, files, error):
        if error is None and method in REPLY_METHODS:
            chat = str(params.get("chat_id"))
            self.last_reply[chat] = str(params.get("text") or params.get("caption") or "")
            waiter = self.waiting.pop(chat, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())
        return super()._record(method, params, files, error)


class Load:
    def __init__(self, api: TimedTelegramApi, urls: list[str], args) -> None:
        self.api = api
        self.urls = urls
        self.args = args
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self._next_url = 0
        self._update_ids = iter(range(1, 10**9))
        self.http = httpx.AsyncClient(
            timeout=args.reply_timeout,
            limits=httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections),
        )

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def user(self, user_id: int, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        chat = str(user_id)
        for n in range(self.args.messages):
            text = "/start" if n == 0 else random.choice(QUESTIONS)
            next_at = time.perf_counter() + self.args.think
            await self.message(chat, user_id, text)
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async def message(self, chat: str, user_id: int, text: str) -> None:
        message = {**self.api._user_message(user_id, "vi", "Lan"), "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        update = {"update_id": next(self._update_ids), "message": message}
        url = self.urls[self._next_url]
        self._next_url = (self._next_url + 1) % len(self.urls)
        replied = asyncio.get_running_loop().create_future()
        self.api.waiting[chat] = replied
        sent = time.perf_counter()
        try:
            response = await self.http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
        except httpx.HTTPError as error:
            self.api.waiting.pop(chat, None)
            return self.error(f"webhook {type(error).__name__}")
        if response.status_code != 200:
            self.api.waiting.pop(chat, None)
            return self.error(f"webhook HTTP {response.status_code}")
        try:
            answered = await asyncio.wait_for(replied, self.args.reply_timeout)
        except TimeoutError:
            self.api.waiting.pop(chat, None)
            return self.error("no reply in time")
        if self.api.last_reply.get(chat, "").startswith(APOLOGY[:30]):
            return self.error("apology")
        self.latencies.append(answered - sent)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def run(args) -> dict:
    bindir = postgres_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries not found")
    work = Path(tempfile.mkdtemp(prefix="troly-load-"))
    postgres = ThrowawayPostgres(bindir, durable=not args.no_fsync)
    workers = []
    try:
        storage_url = postgres.start()
        mock = await start_server(
            create_app(MockSettings(database=str(work / "mock.sqlite3"), signing_key=b"bench", webhook_secret=b"bench")),
            "127.0.0.1",
            0,
        )
        async with TimedTelegramApi() as api:
            config = write_worker_config(work, storage_url, mock.url)
            env = worker_environment(api.token, api.base_url)
            workers = await asyncio.gather(
                *(asyncio.to_thread(start_worker, config, env, work / f"worker-{n}.log") for n in range(args.workers))
            )
            load = Load(api, [worker.webhook_url for worker in workers], args)
            started = time.perf_counter()
            users = [
                load.user(1_000_000 + n, random.uniform(0, args.think)) for n in range(args.users)
            ]
            try:
                await asyncio.wait_for(asyncio.gather(*users), args.max_seconds)
            except TimeoutError:
                load.error("benchmark time limit")
            elapsed = time.perf_counter() - started
            await load.http.aclose()
            for worker in workers:
                await asyncio.to_thread(worker.stop)
        await mock.stop()
    finally:
        for worker in workers:
            worker.kill()
        postgres.stop()
    latencies = load.latencies
    return {
        "benchmark": "load: Telegram webhook -> 2 workers -> PostgreSQL",
        "workers": args.workers,
        "users": args.users,
        "messages_per_user": args.messages,
        "offered_messages_per_s": round(args.users / args.think, 1),
        "messages": len(latencies) + sum(load.errors.values()),
        "answered": len(latencies),
        "seconds": round(elapsed, 2),
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 1),
            "p90": round(percentile(latencies, 0.90) * 1000, 1),
            "p99": round(percentile(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies, default=float("nan")) * 1000, 1),
            "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        },
        "errors": sum(load.errors.values()),
        "error_kinds": load.errors,
        "postgres_fsync": not args.no_fsync,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--think", type=float, default=2.0, help="seconds between a user's messages")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=400, help="HTTP connections to the workers")
    parser.add_argument("--reply-timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop the benchmark after this long")
    parser.add_argument("--no-fsync", action="store_true", help="PostgreSQL without fsync (as the tests run it)")
    print(json.dumps(asyncio.run(run(parser.parse_args())), ensure_ascii=False))


if __name__ == "__main__":
    main()
