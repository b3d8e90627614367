"""kill -9 in the middle of a broadcast: after a restart nobody is skipped,
and only rows in flight at the kill may have been sent twice."""

from __future__ import annotations

import asyncio
import random
import signal
import sys

import pytest
from sqlalchemy import func, select

from core.paths import PROJECT_ROOT
from storage.broadcasts.model import BroadcastStatus, DeliveryState, Segment
from storage.broadcasts.store import BroadcastStore
from storage.schema import broadcast_deliveries
from storage.sql import SqlStorage
from tests.broadcast.conftest import add_citizens

RECIPIENTS = 2000


async def start_worker(database_url: str, platform_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.broadcast.delivery_process", database_url, platform_url, cwd=PROJECT_ROOT
    )


async def in_flight(storage: SqlStorage) -> int:
    async with storage.transaction() as conn:
        query = select(func.count()).where(broadcast_deliveries.c.state == DeliveryState.IN_FLIGHT.value)
        return (await conn.execute(query)).scalar_one()


@pytest.mark.slow
async def test_broadcast_resumes_after_crash_without_skipping_anyone(storage_url, platform):
    storage = SqlStorage(storage_url)
    await storage.init()
    try:
        ids = await add_citizens(storage, RECIPIENTS)
        store = BroadcastStore(storage)
        broadcast = await store.create(created_by="cli:admin", text="Thông báo khẩn", segment=Segment())

        kill_after = random.randint(RECIPIENTS // 10, RECIPIENTS * 9 // 10)
        worker = await start_worker(storage_url, platform.url)
        while platform.delivered < kill_after:
            assert worker.returncode is None, "the worker ended before the kill"
            await asyncio.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        delivered_at_kill = platform.delivered
        possibly_twice = await in_flight(storage)
        assert delivered_at_kill < RECIPIENTS  # killed mid-broadcast

        worker = await start_worker(storage_url, platform.url)
        assert await asyncio.wait_for(worker.wait(), 120) == 0

        assert sorted(platform.received, key=int) == ids  # nobody skipped
        duplicates = platform.delivered - RECIPIENTS
        assert duplicates <= possibly_twice, (duplicates, possibly_twice)
        report = await store.report(broadcast.id)
        assert report.status == BroadcastStatus.DONE and report.count(DeliveryState.SENT) == RECIPIENTS
    finally:
        await storage.close()
