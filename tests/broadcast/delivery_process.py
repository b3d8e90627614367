"""A delivery worker as its own process, for the crash test: works the
outbox of the database at argv[1] through the loopback platform at argv[2]
until nothing is left to send."""

from __future__ import annotations

import asyncio
import sys

from bot.broadcast.worker import DeliveryWorker
from storage.broadcasts.store import BroadcastStore
from storage.sql import SqlStorage
from tests.broadcast.conftest import fast_settings
from tests.fakes.loopback_channel import LoopbackChannel


async def main(database_url: str, platform_url: str) -> None:
    storage = SqlStorage(database_url)
    await storage.init()
    channel = LoopbackChannel(platform_url)
    try:
        settings = fast_settings(batch_size=40, lease_seconds=1, poll_seconds=0.1)
        await DeliveryWorker(BroadcastStore(storage), {"telegram": channel}, settings).run(exit_when_idle=True)
    finally:
        await channel.stop()
        await storage.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
