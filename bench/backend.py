"""Benchmark: status lookups through BackendClient against the mock service
(its own process, on loopback) at 1, 50 and 200 concurrent callers.
Prints one JSON object: p50/p99 latency (ms), requests/s, errors per level."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.client import BackendClient, BackendError, OwnershipProof  # noqa: E402

LOOKUPS = [
    ("000.00.79.H79-261115-0007", OwnershipProof(id_last4="1234", birth_date=date(1985, 7, 2))),
    ("000.00.01.H01-261103-0012", OwnershipProof(id_number="001190004567")),
    ("000.00.48.H48-261110-0002", OwnershipProof(id_last4="3456", birth_date=date(2002, 11, 20))),
    ("000.00.40.H40-261105-0004", OwnershipProof(id_last4="2211", birth_date=date(1975, 1, 30))),
]
LEVELS = (1, 50, 200)
SECONDS_PER_LEVEL = float(os.environ.get("BENCH_SECONDS", "5"))


def start_service(workdir: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "bot.cli", "backend", "--port", "0", "--database", f"{workdir}/bench.sqlite3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"mock backend did not start: {line!r}")
    return process, line.split(" on ", 1)[1].strip()


async def run_level(url: str, callers: int) -> dict:
    latencies: list[float] = []
    errors = 0
    async with BackendClient(url, timeout=3.0) as client:
        await client.lookup(*LOOKUPS[0])  # warm-up connection and caches
        stop_at = time.perf_counter() + SECONDS_PER_LEVEL

        async def caller(number: int) -> None:
            nonlocal errors
            index = number
            while time.perf_counter() < stop_at:
                code, proof = LOOKUPS[index % len(LOOKUPS)]
                index += 1
                started = time.perf_counter()
                try:
                    await client.lookup(code, proof)
                except BackendError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(caller(n) for n in range(callers)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "callers": callers,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2) if ordered else None,
        "requests_per_second": round(len(latencies) / elapsed, 1),
    }


async def main() -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        process, url = start_service(workdir)
        try:
            results = [await run_level(url, callers) for callers in LEVELS]
        finally:
            process.terminate()
            process.wait(timeout=10)
    return {
        "benchmark": "backend status lookups through BackendClient (mock service in its own process, loopback)",
        "seconds_per_level": SECONDS_PER_LEVEL,
        "cpu_count": os.cpu_count(),
        "levels": results,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
