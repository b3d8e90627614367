"""Throughput and latency of the dialogue: many concurrent simulated users
through the core (dispatcher + flows + SQLite storage + embedded NLU +
in-memory mock backend) and through the web chat's `POST /api/chat` (the
whole app over HTTP, mock backend over HTTP).

Prints one JSON object. Goal: >= 300 messages/s at p99 <= 50 ms through the
core with SQLite. Two ways of loading the core:

- `core_sqlite`: every user sends their next message as soon as the reply
  comes (closed loop). This measures the most messages/s the core handles;
  latency there is mostly queueing (Little's law: 50 users at N msg/s wait
  about 50/N s each), so it says little about latency at a given load.
- `core_sqlite_at_rate`: messages arrive at `--rate` per second in total
  (open loop, users taking turns; each user still waits for a reply before
  their next message). Latency counts from when a message was due, so a
  core that falls behind pays for it. This is the goal's "p99 at 300/s".

`cpu_ms_per_message` is this process's CPU time per message (all threads):
unlike wall time it stays meaningful on a busy shared machine.

    .venv/bin/python bench/chat.py [--users 50] [--rounds 2] [--rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COMPLETED_CODE = "000.00.01.H01-261103-0012"
LAN_ID = "001190004567"

# One citizen's visit: the kinds of messages a real session mixes.
SCRIPT = [
    ("start", ""),
    ("button", "onboarding:lang:vi"),
    ("button", "onboarding:consent:yes"),
    ("text", "Hà Nội"),
    ("text", "lệ phí bao nhiêu"),
    ("button", "fees:group:standard"),
    ("text", "3"),
    ("button", "menu:open:guide"),
    ("button", "guide:step:1"),
    ("button", "guide:step:2"),
    ("text", "mất bao lâu thì có kết quả"),
    ("button", "menu:open:status"),
    ("text", COMPLETED_CODE),
    ("text", LAN_ID),
    ("text", "cảm ơn"),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def cpu_seconds() -> float:
    """This process's CPU time, all threads: unlike wall time, it does not
    grow when other programs load the (shared) machine."""
    times = os.times()
    return times.user + times.system


def summary(latencies: list[float], elapsed: float, cpu: float) -> dict:
    return {
        "messages": len(latencies),
        "seconds": round(elapsed, 2),
        "messages_per_second": round(len(latencies) / elapsed, 1),
        "cpu_ms_per_message": round(cpu / len(latencies) * 1000, 2),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


async def bench_core(directory: Path, users: int, rounds: int, rate: float | None = None) -> dict:
    """The core under `users` simulated users: as fast as they get replies,
    or (with `rate`) messages due at `rate` per second in total."""
    from backend.client import FakeBackendClient
    from bot.config import load_settings
    from bot.dispatcher import Dispatcher, settle_startup_memory
    from bot.wiring import interpreter_from_settings
    from core.messages import Inbound, InboundKind
    from domain.knowledge import load_knowledge
    from flows.base import Services
    from flows.illustrations import step_image
    from flows.texts import texts
    from storage.feedback import FeedbackStore
    from storage.sql import SqlStorage

    storage = SqlStorage(f"sqlite+aiosqlite:///{directory / f'bench-{rate or 0}.sqlite3'}")
    await storage.init()
    services = Services(
        storage=storage,
        texts=texts(),
        nlu=interpreter_from_settings(load_settings()),
        backend=FakeBackendClient(),
        knowledge=load_knowledge(),
        illustrations=step_image,
        feedback=FeedbackStore(storage),
    )  # as bot/app.py wires it
    dispatcher = Dispatcher(services)
    latencies: list[float] = []
    begin = 0.0

    async def user(number: int) -> None:
        sent = 0
        for round_ in range(rounds):
            for step, (kind, value) in enumerate(SCRIPT):
                inbound = Inbound(
                    "bench",
                    f"u{number}",
                    f"u{number}",
                    kind=InboundKind(kind),
                    text=value if kind == "text" else "",
                    payload=value if kind != "text" else "",
                    update_id=f"{number}-{round_}-{step}",
                )
                started = time.perf_counter()
                if rate and number >= 0:
                    due = begin + (sent * users + number) / rate
                    await asyncio.sleep(max(0.0, due - started))
                    started = due
                sent += 1
                await dispatcher.handle(inbound)
                latencies.append(time.perf_counter() - started)

    await user(-1)  # warm caches (NLU, knowledge, pictures)
    settle_startup_memory()  # as `troly run` does before serving (bot/app.py create_app)
    latencies.clear()
    started, cpu = time.perf_counter(), cpu_seconds()
    begin = started
    await asyncio.gather(*(user(n) for n in range(users)))
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    await storage.close()
    return summary(latencies, elapsed, cpu)


async def bench_http(directory: Path, users: int, rounds: int) -> dict:
    import httpx

    from backend.runner import start_server
    from bot.app import Runtime, create_app
    from bot.config import Settings
    from bot.dispatcher import settle_startup_memory

    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{directory / 'bench-http.sqlite3'}"},
            "backend": {"mock_database": str(directory / "mock.sqlite3")},
            "media": {"directory": str(directory / "media")},
        }
    )
    runtime = Runtime(settings, mock_port=0)
    server = await start_server(create_app(settings, runtime), "127.0.0.1", 0)
    runtime.bound_to(server.url)
    settle_startup_memory()
    latencies: list[float] = []

    async def user(number: int) -> None:
        # Each user its own browser: one keep-alive connection. (One shared
        # client would scan all its pooled connections on every request, a
        # cost of the simulation, not of the bot, growing with the users.)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for _ in range(rounds):
                for kind, value in SCRIPT:
                    started = time.perf_counter()
                    response = await client.post("/api/chat", json={"user_id": f"h{number}", kind: value})
                    response.raise_for_status()
                    latencies.append(time.perf_counter() - started)

    try:
        await user(-1)
        latencies.clear()
        started, cpu = time.perf_counter(), cpu_seconds()
        await asyncio.gather(*(user(n) for n in range(users)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        await server.stop()
    return summary(latencies, elapsed, cpu)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=300, help="messages/s offered in the open-loop run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        core = await bench_core(directory, args.users, args.rounds)
        at_rate = await bench_core(directory, args.users, args.rounds, rate=args.rate)
        http = await bench_http(directory, args.users, args.rounds)
    print(
        json.dumps(
            {
                "benchmark": "chat",
                "users": args.users,
                "messages_per_user": len(SCRIPT) * args.rounds,
                "cpus": os.cpu_count(),
                "core_sqlite": core,
                "core_sqlite_at_rate": {"offered_messages_per_second": args.rate, **at_rate},
                "http_api_chat": http,
                "goal": {"core_messages_per_second": 300, "core_p99_ms": 50},
                # The core keeps up with 300 messages/s (closed loop), and at that
                # load (open loop) 99% of messages are answered within 50 ms.
                "goal_met": core["messages_per_second"] >= 300 and args.rate >= 300 and at_rate["p99_ms"] <= 50,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
