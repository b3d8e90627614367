"""Load test: simulated Telegram users through the webhook of two
`troly run --worker` processes sharing one PostgreSQL database.

Everything runs on this machine and stops by itself: a throwaway PostgreSQL
cluster (durable commits: fsync on; the workers connect by its Unix socket,
as on one host, or with `--tcp` by loopback TCP), the mock backend, the fake
Telegram Bot API (tests/fakes) which also plays the users, and the two workers.

Each user sends `--messages` texts (a /start, then typical questions), one
every `--think` seconds, waiting for the bot's answer before the next, so
the offered load is users / think messages per second (1,000 / 1.9 s = 526/s:
a bit over the goal of 500/s, as a run ramps up and down at its ends).
Updates alternate between the two workers, as a round-robin reverse proxy
would. The workers answer in the webhook response where they can
(`--webhook-reply-seconds`, 1 s as in config.yml); the fake Bot API then
runs that call, as Telegram does. A message's latency is from posting its
update to the webhook until the fake Bot API receives the bot's first reply
to that chat. An error is a webhook answer other than 200, no reply within
`--reply-timeout` seconds, or the bot's apology.

This measures the bot's own capacity, so the bot account's send rate is
`--bot-rate` (1,000/s: Telegram's paid-broadcast ceiling), not the free
tier's 30/s, under which one bot account answers at most 30 messages a
second however fast the bot is (bench/burst.py measures that case).

    .venv/bin/python bench/load.py [--users 1000] [--messages 20] [--think 1.9]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from backend.runner import start_server  # noqa: E402
from backend.server import create_app  # noqa: E402
from backend.settings import MockSettings  # noqa: E402
from bot.channels.receive import APOLOGY  # noqa: E402
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
# An edit in place is an answer too (a step shown again on the same message).
REPLY_METHODS = {"sendMessage", "sendPhoto", "editMessageText", "editMessageMedia"}


class TimedTelegramApi(FakeTelegramApi):
    """The fake Bot API, telling waiting users when the bot answers them."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[str, asyncio.Future] = {}
        self.last_reply: dict[str, str] = {}

    def _record(self, method, params, files, error, in_webhook_response=False):
        if error is None and method in REPLY_METHODS:
            chat = str(params.get("chat_id"))
            self.last_reply[chat] = str(params.get("text") or params.get("caption") or "")
            waiter = self.waiting.pop(chat, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())
        return super()._record(method, params, files, error, in_webhook_response)


class WebhookPoster:
    """Posts updates to one worker's webhook over keep-alive connections,
    as Telegram's servers do: a minimal HTTP/1.1 client. (httpx re-checks
    every pooled connection on each request: with hundreds of them that
    was milliseconds of this process's CPU per message, taken from the
    workers on a shared machine.)"""

    def __init__(self, url: str, connections: int, timeout: float) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.timeout = timeout
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._open: set[asyncio.StreamWriter] = set()

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST `body` as JSON; the response status and body."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n"
        ).encode() + body
        async with self._slots:
            reused = bool(self._idle)
            try:
                return await asyncio.wait_for(self._exchange(request, reused), self.timeout)
            except (OSError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # The server closed an idle connection (keep-alive timeout): once more on a new one.
                return await asyncio.wait_for(self._exchange(request, False), self.timeout)

    async def _exchange(self, request: bytes, reuse: bool) -> tuple[int, bytes]:
        if reuse and self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self._open.add(writer)
        try:
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError("the server closed the connection")
            status = int(status_line.split()[1])
            length, keep = 0, True
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    keep = False
            body = await reader.readexactly(length)
        except BaseException:
            self._close(writer)
            raise
        if keep:
            self._idle.append((reader, writer))
        else:
            self._close(writer)
        return status, body

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    def close(self) -> None:
        for writer in list(self._open):
            self._close(writer)
        self._idle.clear()


class Load:
    def __init__(self, api: TimedTelegramApi, urls: list[str], args) -> None:
        self.api = api
        self.urls = urls
        self.args = args
        self.latencies: list[float] = []
        self.first_latencies: list[float] = []  # each user's first message: a new user's /start
        self.errors: dict[str, int] = {}
        self._next_url = 0
        self._update_ids = iter(range(1, 10**9))
        per_worker = max(1, args.connections // len(urls))
        self.posters = [WebhookPoster(url, per_worker, args.reply_timeout) for url in urls]

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def user(self, user_id: int, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        chat = str(user_id)
        for n in range(self.args.messages):
            text = "/start" if n == 0 else random.choice(QUESTIONS)
            next_at = time.perf_counter() + self.args.think
            await self.message(chat, user_id, text)
            if n + 1 < self.args.messages:  # the run ends with the last answer, not a pause after it
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async def message(self, chat: str, user_id: int, text: str) -> None:
        message = {**self.api._user_message(user_id, "vi", "Lan"), "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}]
        update = {"update_id": next(self._update_ids), "message": message}
        poster = self.posters[self._next_url]
        self._next_url = (self._next_url + 1) % len(self.posters)
        replied = asyncio.get_running_loop().create_future()
        self.api.waiting[chat] = replied
        sent = time.perf_counter()
        body = json.dumps(update).encode()
        try:
            status, answer = await poster.post(body, {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            self.api.waiting.pop(chat, None)
            return self.error(f"webhook {type(error).__name__}")
        if status != 200:
            self.api.waiting.pop(chat, None)
            return self.error(f"webhook HTTP {status}")
        if answer:  # the reply came back in the webhook response: Telegram sends it
            await self.api.run_webhook_answer(answer)
        try:
            answered = await asyncio.wait_for(replied, self.args.reply_timeout)
        except TimeoutError:
            self.api.waiting.pop(chat, None)
            return self.error("no reply in time")
        if self.api.last_reply.get(chat, "").startswith(APOLOGY[:30]):
            return self.error("apology")
        self.latencies.append(answered - sent)
        if text == "/start":
            self.first_latencies.append(answered - sent)


def process_cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time of a live process (`children`: plus its
    reaped children's), from /proc; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(data_directory: Path) -> float:
    """CPU time of the whole PostgreSQL cluster: the postmaster, its live
    backends and (through cutime) the ones that exited."""
    try:
        postmaster = int((data_directory / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = process_cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == postmaster:
                total += process_cpu_seconds(int(entry.name))
    return total


class CpuMeter:
    """Where the CPU goes during the run: each worker, PostgreSQL, and this
    process (the simulated users, the fake Bot API and the mock backend)."""

    def __init__(self, workers, postgres_data: Path) -> None:
        self.workers = workers
        self.postgres_data = postgres_data
        self.start = self.read()

    def read(self) -> dict[str, float]:
        times = os.times()
        readings = {f"worker_{n}": process_cpu_seconds(w.process.pid) for n, w in enumerate(self.workers)}
        readings["postgres"] = postgres_cpu_seconds(self.postgres_data)
        readings["bench_users_fake_telegram_mock_backend"] = times.user + times.system
        return readings

    def used_ms_per_message(self, messages: int) -> dict[str, float]:
        end = self.read()
        used = {name: end[name] - self.start[name] for name in end}
        used["total"] = sum(used.values())
        return {name: round(seconds * 1000 / max(messages, 1), 2) for name, seconds in used.items()}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def latency_summary(latencies: list[float]) -> dict[str, float | None]:
    return {
        "p50": round(percentile(latencies, 0.50) * 1000, 1),
        "p90": round(percentile(latencies, 0.90) * 1000, 1),
        "p99": round(percentile(latencies, 0.99) * 1000, 1),
        "max": round(max(latencies, default=float("nan")) * 1000, 1),
        "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


async def run(args) -> dict:
    bindir = postgres_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries not found")
    work = Path(tempfile.mkdtemp(prefix="troly-load-"))
    print(f"worker logs: {work}", file=sys.stderr)
    postgres = ThrowawayPostgres(bindir, durable=not args.no_fsync)
    workers = []
    try:
        storage_url = postgres.start()
        if not args.tcp:
            storage_url = postgres.unix_socket_url()
        mock = await start_server(
            create_app(
                MockSettings(database=str(work / "mock.sqlite3"), signing_key=b"bench", webhook_secret=b"bench")
            ),
            "127.0.0.1",
            0,
        )
        async with TimedTelegramApi() as api:
            rate = f"broadcast:\n  rates:\n    telegram: {{per_second: {args.bot_rate}, per_chat_burst: 3}}\n"
            config = write_worker_config(work, storage_url, mock.url, args.webhook_reply_seconds, extra=rate)
            env = worker_environment(api.token, api.base_url)
            workers = await asyncio.gather(
                *(asyncio.to_thread(start_worker, config, env, work / f"worker-{n}.log") for n in range(args.workers))
            )
            load = Load(api, [worker.webhook_url for worker in workers], args)
            cpu = CpuMeter(workers, postgres.data)
            calls_before = len(api.calls)
            # This process plays every user and keeps every Bot API call: its
            # full garbage collections grew to 100+ ms pauses that delayed the
            # users in flight and left them sending in step from then on. The
            # load generator must not pause, so it collects before and after.
            gc.collect()
            gc.disable()
            started = time.perf_counter()
            users = [load.user(1_000_000 + n, random.uniform(0, args.think)) for n in range(args.users)]
            try:
                await asyncio.wait_for(asyncio.gather(*users), args.max_seconds)
            except TimeoutError:
                load.error("benchmark time limit")
            elapsed = time.perf_counter() - started
            gc.enable()
            cpu_ms = cpu.used_ms_per_message(len(load.latencies))
            calls = api.calls[calls_before:]
            bot_api_calls = dict(Counter(call.method for call in calls if not call.in_webhook_response).most_common())
            in_webhook_responses = sum(call.in_webhook_response for call in calls)
            for poster in load.posters:
                poster.close()
            for worker in workers:
                await asyncio.to_thread(worker.stop)
        await mock.stop()
    finally:
        for worker in workers:
            worker.kill()
        postgres.stop()
        if not args.keep_logs:
            shutil.rmtree(work, ignore_errors=True)
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
        "latency_ms": latency_summary(latencies),
        # Every user's first message (a new user's /start) arrives within the
        # first --think seconds: the run's burst of the dearest messages.
        "first_message_latency_ms": latency_summary(load.first_latencies),
        "errors": sum(load.errors.values()),
        "error_kinds": load.errors,
        "goal_met": len(latencies) / elapsed >= 500 and percentile(latencies, 0.99) <= 0.1 and not load.errors,
        # CPU time per answered message, by process: with 2 shared cores,
        # 2,000 ms of CPU per second is all there is (4 ms/message at 500/s).
        "cpu_ms_per_message": cpu_ms,
        "cpus": os.cpu_count(),
        "bot_rate_per_s": args.bot_rate,
        "bot_api_calls": bot_api_calls,
        "calls_in_webhook_responses": in_webhook_responses,
        "postgres_fsync": not args.no_fsync,
        "postgres_connection": "tcp loopback" if args.tcp else "unix socket",
        "webhook_reply_seconds": args.webhook_reply_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--think", type=float, default=1.9, help="seconds between a user's messages")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--connections",
        type=int,
        default=100,
        help="webhook connections in all (Telegram opens up to telegram.webhook_max_connections, 100)",
    )
    parser.add_argument(
        "--bot-rate", type=float, default=1000.0, help="the bot account's messages per second (broadcast.rates)"
    )
    parser.add_argument("--reply-timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop the benchmark after this long")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs (path on stderr)")
    parser.add_argument("--no-fsync", action="store_true", help="PostgreSQL without fsync (as the tests run it)")
    parser.add_argument(
        "--tcp",
        action="store_true",
        help="workers reach PostgreSQL by TCP on loopback, not by its Unix socket (docs/deploy.md, same host)",
    )
    parser.add_argument(
        "--webhook-reply-seconds",
        type=float,
        default=1.0,
        help="telegram.webhook_reply_seconds of the workers (docs/deploy.md; 0: every reply by a Bot API call)",
    )
    print(json.dumps(asyncio.run(run(parser.parse_args())), ensure_ascii=False))


if __name__ == "__main__":
    main()
