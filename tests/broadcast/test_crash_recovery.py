"""kill -9 in the middle of a broadcast: after a restart nobody is skipped,
and only rows in flight at the kill may have been sent twice.

The kill points are enumerated, not drawn at random (issue 20, finding 9): the
platform holds one chosen send open, and the worker is killed while it waits,
either before the platform took the message (a row marked sent before its
send would be skipped: caught every time) or after it took it (the row may
be sent again, never lost)."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse

from core.paths import PROJECT_ROOT
from storage.broadcasts.model import BroadcastStatus, DeliveryState, Segment
from storage.broadcasts.store import BroadcastStore
from storage.schema import broadcast_deliveries
from storage.sql import SqlStorage
from tests.broadcast.conftest import add_citizens
from tests.fakes.loopback_channel import LoopbackPlatform

RECIPIENTS = 300  # batches of 40 (tests/broadcast/delivery_process.py)


@dataclass(frozen=True)
class KillPoint:
    send: int  # the worker is killed while the platform holds its n-th send
    taken: bool  # whether the platform had taken (recorded) that message

    def __str__(self) -> str:
        return f"send {self.send}, {'after' if self.taken else 'before'} the platform took it"


KILL_POINTS = [KillPoint(1, taken=False), KillPoint(97, taken=False), KillPoint(97, taken=True)]


class HoldingPlatform(LoopbackPlatform):
    """The loopback platform, holding its `kill_point.send`-th send open
    until `release` (the worker is killed meanwhile)."""

    def __init__(self, kill_point: KillPoint) -> None:
        super().__init__()
        self.kill_point, self.arrivals = kill_point, 0
        self.holding, self.release = asyncio.Event(), asyncio.Event()

    async def _send(self, request: Request) -> JSONResponse:
        self.arrivals += 1
        if self.arrivals != self.kill_point.send:
            return await super()._send(request)
        if self.kill_point.taken:
            body = await request.json()
            for message in body["messages"]:
                self.received[str(body["chat_id"])].append(message["text"])
        self.holding.set()
        await self.release.wait()
        return JSONResponse({"ok": False}, status_code=503)  # nobody is listening any more


async def start_worker(database_url: str, platform_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.broadcast.delivery_process", database_url, platform_url, cwd=PROJECT_ROOT
    )


async def in_flight(storage: SqlStorage) -> int:
    async with storage.transaction() as conn:
        query = select(func.count()).where(broadcast_deliveries.c.state == DeliveryState.IN_FLIGHT.value)
        return (await conn.execute(query)).scalar_one()


@pytest.mark.slow
@pytest.mark.parametrize("kill_point", KILL_POINTS, ids=str)
async def test_broadcast_resumes_after_crash_without_skipping_anyone(storage_url, kill_point):
    storage = SqlStorage(storage_url)
    await storage.init()
    try:
        async with HoldingPlatform(kill_point) as platform:
            ids = await add_citizens(storage, RECIPIENTS)
            store = BroadcastStore(storage)
            broadcast = await store.create(created_by="cli:admin", text="Thông báo khẩn", segment=Segment())

            worker = await start_worker(storage_url, platform.url)
            holding = asyncio.create_task(platform.holding.wait())
            ended = asyncio.create_task(worker.wait())
            await asyncio.wait({holding, ended}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            assert holding.done(), f"kill point {kill_point}: the worker never reached it"
            worker.send_signal(signal.SIGKILL)
            await ended
            platform.release.set()
            possibly_twice = await in_flight(storage)
            assert platform.delivered < RECIPIENTS, f"kill point {kill_point}: not killed mid-broadcast"

            worker = await start_worker(storage_url, platform.url)
            assert await asyncio.wait_for(worker.wait(), 120) == 0

            skipped = sorted(set(ids) - set(platform.received), key=int)
            assert not skipped, f"kill point {kill_point}: {len(skipped)} never received it, e.g. {skipped[:5]}"
            assert sorted(platform.received, key=int) == ids
            duplicates = platform.delivered - RECIPIENTS
            assert duplicates <= possibly_twice, (str(kill_point), duplicates, possibly_twice)
            report = await store.report(broadcast.id)
            assert report.status == BroadcastStatus.DONE and report.count(DeliveryState.SENT) == RECIPIENTS
    finally:
        await storage.close()
