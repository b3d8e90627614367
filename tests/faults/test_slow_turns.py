"""A turn slower than the webhook may wait (a slow backend): the update is
acknowledged to Telegram before its turn is saved, so it is written down
first (bot/channels/inbox.py). Two real `troly run --worker` processes on
one PostgreSQL database, with the fake Telegram Bot API."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.channels.receive import APOLOGY
from storage.schema import inbound_updates
from storage.sql import SqlStorage
from tests.fakes.telegram_api import FakeTelegramApi
from tests.faults.cluster import running_workers, worker_environment, write_worker_config
from tests.faults.conftest import set_faults
from tests.faults.test_backend_faults import CODE, LAN_ID
from tests.faults.test_workers import USER, Balancer, answered, settled, texts

LEASE_SECONDS = 2
SLOW_BACKEND_MS = 4000  # the turn outlasts the webhook's wait (1 s for the answer, 1 s for the save)
STATUS = "Tình trạng:"


@pytest.fixture
async def cluster(tmp_path, postgres_url, mock_backend):
    async with FakeTelegramApi() as api:
        config = write_worker_config(
            tmp_path / "deploy",
            postgres_url,
            mock_backend.url,
            extra=f"outbound:\n  lease_seconds: {LEASE_SECONDS}\n  poll_seconds: 0.2\n",
            backend_timeout=SLOW_BACKEND_MS / 1000 + 2,
        )
        env = worker_environment(api.token, api.base_url)
        async with running_workers(config, env, tmp_path) as workers:
            yield api, Balancer(api, workers)


async def asking_for_the_proof(api: FakeTelegramApi, balancer: Balancer) -> tuple[dict, int]:
    """The user at the proof step on worker 0; their proof, not sent yet, and how many messages they have."""
    await balancer.via(0, lambda: api.user_says("/start", user_id=USER))
    await api.wait_for(lambda: api.bot_messages(USER))
    await balancer.via(0, lambda: api.user_presses_data("menu:open:status", api.last_bot_message(USER), user_id=USER))
    count = len(texts(api))
    await balancer.via(0, lambda: api.user_says(CODE, user_id=USER))
    await answered(api, CODE, after=count)
    proof = {"update_id": 30_000, "message": {**api._user_message(USER, "vi", "Lan"), "text": LAN_ID}}
    return proof, len(texts(api))


async def kept_updates(postgres_url: str) -> int:
    storage = SqlStorage(postgres_url)
    await storage.init()
    try:
        async with storage.transaction() as conn:
            return len((await conn.execute(inbound_updates.select())).all())
    finally:
        await storage.close()


async def test_a_message_acknowledged_before_its_slow_turn_was_saved_survives_its_worker(
    cluster, mock_backend, postgres_url
):
    api, balancer = cluster
    proof, count = await asking_for_the_proof(api, balancer)
    await set_faults(mock_backend.url, latency_ms=SLOW_BACKEND_MS)
    started = time.monotonic()
    assert await balancer.via(0, lambda: api.replay(proof)) == 200  # Telegram will not deliver it again
    assert time.monotonic() - started < SLOW_BACKEND_MS / 1000  # answered while the turn still runs
    balancer.workers[0].kill()  # mid-turn: nothing of it saved
    await set_faults(mock_backend.url)

    status = await answered(api, STATUS, after=count)  # worker 1, once the lease has passed
    assert CODE in status
    await settled(api, balancer)
    assert sum(STATUS in text for text in texts(api, after=count)) == 1
    assert APOLOGY not in texts(api)
    assert await kept_updates(postgres_url) == 0


async def test_a_slow_turn_on_a_live_worker_is_answered_once_and_not_kept(cluster, mock_backend, postgres_url):
    api, balancer = cluster
    proof, count = await asking_for_the_proof(api, balancer)
    await set_faults(mock_backend.url, latency_ms=SLOW_BACKEND_MS)
    assert await balancer.via(0, lambda: api.replay(proof)) == 200
    assert await kept_updates(postgres_url) == 1  # written down before the 200
    await answered(api, STATUS, after=count)
    await set_faults(mock_backend.url)
    await asyncio.sleep(LEASE_SECONDS + 1)  # a kept copy handled again would show by now
    await settled(api, balancer)
    assert sum(STATUS in text for text in texts(api, after=count)) == 1
    assert await kept_updates(postgres_url) == 0
