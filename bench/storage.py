"""Storage throughput on SQLite and PostgreSQL; prints one JSON object.

For each database: `save_conversation` ops/s (one writer, then 50 concurrent
users), and the storage work of one incoming message as the dispatcher does
it (user lock, `begin_turn`: duplicate guard + user + conversation, then
`save_turn`: update id + conversation + one analytics event) as messages/s,
p50/p99 latency and this process's CPU per message, for 200 concurrent
users (a new user's first message also creates the user).

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

from storage.base import Conversation
from storage.sql import SqlStorage

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
        conversation = None  # kept between messages, as the dispatcher's cache does
        for message in range(MESSAGES_PER_USER):
            started = time.perf_counter()
            update_id = f"{user_id}-{message}"
            async with storage.user_lock("bench", user_id):
                turn = await storage.begin_turn("bench", user_id, update_id, conversation=conversation is None)
                if turn.user is None:
                    await storage.get_or_create_user("bench", user_id, user_id)
                conversation = conversation or turn.conversation
                conversation.data["messages"] = message
                await storage.save_turn(
                    "bench",
                    user_id,
                    update_id=update_id,
                    conversation=conversation,
                    events=[("intent", {"intent": "fee_info", "confidence": 0.93})],
                )
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_user(index) for index in range(USERS)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    latencies.sort()
    return {
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "cpu_ms_per_message": round(cpu * 1000 / len(latencies), 3),
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
