"""Storage throughput on SQLite and PostgreSQL; prints one JSON object.

For each database: `save_conversation` ops/s (one writer, then 50 concurrent
users), and the storage work of one incoming message (dedupe, user lock,
user upsert, load + save conversation, analytics event) as messages/s with
p50/p99 latency for 200 concurrent users.

PostgreSQL: TROLY_BENCH_POSTGRES_URL (an empty database), otherwise a
throwaway cluster like the tests' but with fsync on (skipped without PostgreSQL binaries).
Run: .venv/bin/python bench/storage.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.base import Conversation  # noqa: E402
from storage.sql import SqlStorage  # noqa: E402

SAVES = 500
USERS = 200
MESSAGES_PER_USER = 5


async def _sequential_saves(storage: SqlStorage) -> float:
    conversation = Conversation(flow="fee", state="ask_copies")
    started = time.perf_counter()
    for step in range(SAVES):
        conversation.data = {"step": step}
        await storage.save_conversation("bench", "solo", conversation)
    return SAVES / (time.perf_counter() - started)


async def _concurrent_saves(storage: SqlStorage, users: int = 50) -> float:
    async def one_user(index: int) -> None:
        conversation = Conversation(flow="fee", state="ask_copies")
        for step in range(SAVES // users):
            conversation.data = {"step": step}
            await storage.save_conversation("bench", f"c{index}", conversation)

    started = time.perf_counter()
    await asyncio.gather(*(one_user(index) for index in range(users)))
    return (SAVES // users) * users / (time.perf_counter() - started)


async def _message_cycle(storage: SqlStorage) -> dict:
    latencies: list[float] = []

    async def one_user(index: int) -> None:
        user_id = f"u{index}"
        for message in range(MESSAGES_PER_USER):
            started = time.perf_counter()
            if await storage.first_time_seen("bench", f"{user_id}-{message}"):
                async with storage.user_lock("bench", user_id):
                    await storage.get_or_create_user("bench", user_id, user_id)
                    conversation = await storage.load_conversation("bench", user_id)
                    conversation.data["messages"] = message
                    await storage.save_conversation("bench", user_id, conversation)
                    await storage.record_event("bench", user_id, "message", {"n": message})
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one_user(index) for index in range(USERS)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


async def _measure(url: str) -> dict:
    storage = SqlStorage(url)
    await storage.init()
    try:
        return {
            "save_conversation_ops_per_s": round(await _sequential_saves(storage), 1),
            "save_conversation_50_users_ops_per_s": round(await _concurrent_saves(storage), 1),
            f"message_cycle_{USERS}_users": await _message_cycle(storage),
        }
    finally:
        await storage.close()


def main() -> None:
    result: dict = {"benchmark": "storage", "saves": SAVES, "users": USERS, "messages_per_user": MESSAGES_PER_USER}
    with tempfile.TemporaryDirectory() as scratch:
        result["sqlite"] = asyncio.run(_measure(f"sqlite+aiosqlite:///{scratch}/bench.sqlite3"))
    url = os.environ.get("TROLY_BENCH_POSTGRES_URL")
    server = None
    if not url:
        from tests.postgres import ThrowawayPostgres, postgres_bindir

        bindir = postgres_bindir()
        if bindir is not None:
            server = ThrowawayPostgres(bindir, durable=True)
            url = server.start()
    try:
        result["postgresql"] = asyncio.run(_measure(url)) if url else "skipped: no PostgreSQL binaries"
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
