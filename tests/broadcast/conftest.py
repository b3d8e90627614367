"""Broadcast tests run on SQLite (a temp file) and on a real PostgreSQL,
like the storage contract suite; the command-line tests on SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.broadcast.worker import DeliveryWorker
from bot.config import BroadcastSettings, ChannelRate, RolesSettings
from bot.roles import Roles
from bot.staff_commands import StaffCommands
from core.messages import Inbound
from storage.broadcasts.store import BroadcastStore
from storage.schema import users
from storage.sql import SqlStorage
from tests.fakes.loopback_channel import LoopbackChannel, LoopbackPlatform
from tests.postgres import postgres_server_url, postgres_url, storage_url  # noqa: F401  (fixtures)

ADMIN = "cli:admin"
CONFIG_ADMIN = "telegram:1001"  # an admin from config.yml in the `roles`/`staff` fixtures


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3"


async def _opened(url: str):
    store = SqlStorage(url)
    await store.init()
    return store


@pytest.fixture
async def storage(storage_url):
    store = await _opened(storage_url)
    yield store
    await store.close()


@pytest.fixture
async def sqlite_storage(sqlite_url):
    store = await _opened(sqlite_url)
    yield store
    await store.close()


@pytest.fixture
def broadcasts(storage) -> BroadcastStore:
    return BroadcastStore(storage)


@pytest.fixture
def roles(storage) -> Roles:
    return Roles(storage, RolesSettings(admins=[CONFIG_ADMIN], outreach=["zalo_bot:77"]))


@pytest.fixture
def staff(roles, broadcasts) -> StaffCommands:
    return StaffCommands(roles, broadcasts)


def says(who: str, text: str) -> Inbound:
    """`who` ("telegram:42") types `text`."""
    channel, user_id = who.split(":")
    return Inbound(channel=channel, user_id=user_id, chat_id=user_id, text=text)


@pytest.fixture
async def platform():
    async with LoopbackPlatform() as server:
        yield server


def fast_settings(**overrides) -> BroadcastSettings:
    """Delivery settings for tests: quick polling, a high loopback rate."""
    values = {
        "batch_size": 50,
        "concurrency": 8,
        "lease_seconds": 2,
        "max_attempts": 3,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "poll_seconds": 0.05,
        "headroom": 0,
        "rates": {"telegram": ChannelRate(per_second=500, per_chat_per_second=50), "web": ChannelRate(per_second=500)},
    }
    return BroadcastSettings(**{**values, **overrides})


async def add_citizens(storage: SqlStorage, count: int, *, channel: str = "telegram", start: int = 1, **attributes):
    """`count` citizens with chat ids `start`, `start+1`...; returns their ids."""
    now = datetime.now(UTC)
    ids = [str(number) for number in range(start, start + count)]
    rows = [
        {"channel": channel, "user_id": id, "chat_id": id, "created_at": now, "last_seen_at": now, **attributes}
        for id in ids
    ]
    async with storage.transaction(write=True) as conn:
        await conn.execute(users.insert(), rows)
    return ids


async def deliver(store: BroadcastStore, platform: LoopbackPlatform, settings=None) -> None:
    """Run a delivery worker on the loopback platform until nothing is left."""
    channel = LoopbackChannel(platform.url)
    try:
        worker = DeliveryWorker(store, {"telegram": channel}, settings or fast_settings())
        await asyncio.wait_for(worker.run(exit_when_idle=True), 20)
    finally:
        await channel.stop()
