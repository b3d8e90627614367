"""Broadcast delivery benchmark; prints one JSON object.

10,000 recipients (`--recipients`) in a temporary SQLite database, delivered
by one `DeliveryWorker` through the real Telegram adapter
(`bot.channels.telegram.TelegramChannel`) to the loopback fake Bot API
(`tests/fakes/telegram_api.py`), which runs in its own process and enforces
Telegram's flood limits (30 messages/s overall, 1/s per chat) with 429s.

Reports: sustained rate (messages/s accepted by the fake, over the whole run
and per 10-second window), 429s received and when, duration, and the worker
process's memory (peak, and RSS sampled along the way: flat means the
engine does not grow with the number of recipients).
Goal: >= 28 messages/s sustained, no 429 after the first second, memory flat.
Run: .venv/bin/python bench/broadcast.py   (about 6 minutes for 10,000)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.broadcast.worker import DeliveryWorker  # noqa: E402
from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.config import BroadcastSettings, TelegramSettings  # noqa: E402
from storage.broadcasts.model import DeliveryState, Segment  # noqa: E402
from storage.broadcasts.store import BroadcastStore  # noqa: E402
from storage.sql import SqlStorage  # noqa: E402
from tests.broadcast.conftest import add_citizens  # noqa: E402

TEXT = (
    "Thông báo của Công an tỉnh: từ ngày 01/12, bộ phận tiếp dân làm việc cả sáng thứ Bảy.\n"
    "Notice from the provincial police: from 1 December the reception desk also opens on Saturday mornings."
)

# The fake Bot API in its own process, so its bookkeeping (every call and
# chat it records) does not count against the worker's memory. It prints
# its port, serves until stdin closes, then prints what it saw as JSON.
FAKE_SERVER = """
import asyncio, json, sys
from tests.fakes.telegram_api import FakeTelegramApi, RateLimits

async def main():
    async with FakeTelegramApi(rate_limits=RateLimits()) as api:
        print(api.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        sent = [call.at for call in api.calls if call.method in ("sendMessage", "sendPhoto") and call.status == 200]
        limited = [call.at for call in api.calls if call.status == 429]
        print(json.dumps({"sent": sent, "limited": limited}))

asyncio.run(main())
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(recipients: int) -> dict:
    fake = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FAKE_SERVER, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    port = int((await fake.stdout.readline()).decode())
    with tempfile.TemporaryDirectory() as scratch:
        storage = SqlStorage(f"sqlite+aiosqlite:///{scratch}/bench.sqlite3")
        await storage.init()
        channel = TelegramChannel(
            "123456789:AAtroly-test-token_0123456789abcdefgh",
            TelegramSettings(),
            storage=storage,
            base_url=f"http://127.0.0.1:{port}/bot",
        )
        try:
            await add_citizens(storage, recipients, start=10_000_001)
            store = BroadcastStore(storage)
            settings = BroadcastSettings()
            broadcast = await store.create(created_by="bench", text=TEXT, segment=Segment())
            worker = DeliveryWorker(store, {"telegram": channel}, settings)
            samples = []
            started = time.monotonic()
            work = asyncio.create_task(worker.run(exit_when_idle=True))
            while not work.done():
                await asyncio.wait({work}, timeout=10)
                samples.append(round(rss_mb(), 1))
            await work
            duration = time.monotonic() - started
            report = await store.report(broadcast.id)
            pauses = channel.pacer.pauses  # the bot account's pacer, shared with replies
        finally:
            await channel.stop()
            await storage.close()
    fake.stdin.close()  # the fake reports what it saw and exits
    seen = json.loads((await fake.stdout.read()).decode())
    await fake.wait()

    sent = sorted(seen["sent"])
    first = sent[0]
    span = sent[-1] - first
    windows = [0] * (int(span // 10) + 1)
    for at in sent:
        windows[int((at - first) // 10)] += 1
    full_windows = [count / 10 for count in windows[:-1]] or [round(len(sent) / max(span, 1e-9), 2)]
    return {
        "recipients": recipients,
        "sent": report.count(DeliveryState.SENT),
        "report": report.as_dict(),
        "duration_s": round(duration, 1),
        "sustained_rate_per_s": round((len(sent) - 1) / span, 2) if span else None,
        "rate_per_10s_window": {"min": min(full_windows), "max": max(full_windows)},
        "http_429_received": len(seen["limited"]),
        "http_429_after_first_second": sum(1 for at in seen["limited"] if at - first > 1.0),
        "http_429_at_s": [round(at - first, 1) for at in seen["limited"]],
        "worker_429_pauses": pauses,
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_mb_every_10s": samples,
        "limits": {"overall_per_s": 30, "per_chat_per_s": 1, "headroom": settings.headroom},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.recipients))))


if __name__ == "__main__":
    main()
