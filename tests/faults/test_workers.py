"""Two real `troly run --worker` processes on one PostgreSQL database behind
one webhook address (a balancer that skips a dead worker, like nginx's
`proxy_next_upstream error`), with the fake Telegram Bot API: a worker
killed mid-conversation or mid-message, and duplicated or out-of-order
platform updates."""

from __future__ import annotations

import asyncio
import itertools
import re

import httpx
import pytest

from bot.channels.receive import APOLOGY
from bot.workers import LEADER_RETRY_SECONDS
from tests.fakes.telegram_api import FakeTelegramApi
from tests.faults.cluster import WEBHOOK_SECRET, running_workers, worker_environment, write_worker_config
from tests.faults.conftest import set_faults
from tests.faults.test_backend_faults import CODE, LAN_ID

USER = 42


class Balancer:
    """Posts each update to the next live worker, in turn."""

    def __init__(self, api: FakeTelegramApi, workers) -> None:
        self.api = api
        self.workers = workers
        self._turns = itertools.cycle(range(len(workers)))

    async def via(self, index: int, send):
        """Deliver through worker `index`, as the balancer happened to choose."""
        self.api.webhook = {"url": self.workers[index].webhook_url, "secret_token": WEBHOOK_SECRET}
        return await send()

    async def send(self, send):
        for _ in range(len(self.workers)):
            try:
                return await self.via(next(self._turns), send)
            except httpx.ConnectError:
                continue  # that worker is gone: the next one takes the request
        raise AssertionError("no worker is up")


@pytest.fixture
async def cluster(tmp_path, postgres_url, mock_backend):
    async with FakeTelegramApi() as api:
        config = write_worker_config(tmp_path / "deploy", postgres_url, mock_backend.url)
        env = worker_environment(api.token, api.base_url)
        async with running_workers(config, env, tmp_path) as workers:
            yield api, Balancer(api, workers)


def texts(api: FakeTelegramApi, after: int = 0) -> list[str]:
    return [message.text for message in api.bot_messages(USER)[after:]]


async def answered(api: FakeTelegramApi, words: str, after: int = 0) -> str:
    return await api.wait_for(lambda: next((t for t in texts(api, after) if words in t), None), timeout=15)


MARKER_ANSWER = "Tôi chưa nhận được nội dung"  # the answer to a sticker
MENU_TITLE = "Bạn cần gì?"


def menus(api: FakeTelegramApi) -> int:
    """How many menus the user has been shown."""
    return sum(MENU_TITLE in text for text in texts(api))


async def settled(api: FakeTelegramApi, balancer: Balancer) -> None:
    """Every live worker has finished what it was given for the chat, its
    answers sent: a worker handles a chat's updates in order, so once it has
    answered a sticker sent after them, no earlier answer is still to come.
    (Instead of sleeping "long enough" before checking that nothing more came.)"""
    for index, worker in enumerate(balancer.workers):
        if worker.process.poll() is not None:
            continue
        before = sum(MARKER_ANSWER in text for text in texts(api))
        await balancer.via(index, lambda: api.user_sends_sticker(user_id=USER))
        await api.wait_for(lambda: sum(MARKER_ANSWER in text for text in texts(api)) > before, timeout=15)  # noqa: B023


async def test_conversation_resumes_on_another_worker_after_one_is_killed(cluster):
    api, balancer = cluster
    await balancer.via(0, lambda: api.user_says("/start", user_id=USER))
    await api.wait_for(lambda: api.bot_messages(USER))
    menu = api.last_bot_message(USER)
    await balancer.via(0, lambda: api.user_presses_data("menu:open:status", menu, user_id=USER))
    count = len(texts(api))
    await balancer.via(0, lambda: api.user_says(CODE, user_id=USER))
    await answered(api, CODE, after=count)  # worker 0 asks for the proof

    balancer.workers[0].kill()
    count = len(texts(api))
    await balancer.send(lambda: api.user_says(LAN_ID, user_id=USER))  # worker 0 refuses; worker 1 takes it

    status = await answered(api, "Tình trạng:", after=count)
    assert CODE in status  # the lookup finished on worker 1 from where worker 0 left it
    assert APOLOGY not in texts(api)


async def test_duplicated_and_out_of_order_updates_are_each_answered_exactly_once(cluster):
    api, balancer = cluster
    await balancer.via(0, lambda: api.user_says("/start", user_id=USER))
    await api.wait_for(lambda: api.bot_messages(USER))
    await settled(api, balancer)

    # Telegram retries an update (no 200 in time): both workers get the same one at once.
    shown = menus(api)
    update = await balancer.via(0, lambda: api.user_says("/menu", user_id=USER))
    await balancer.via(1, lambda: api.replay(update))
    await settled(api, balancer)  # both workers are done with it
    assert menus(api) == shown + 1

    await balancer.via(1, lambda: api.replay(update))  # a late retry, long after
    await settled(api, balancer)
    assert menus(api) == shown + 1

    # A newer update arrives before an older one (two workers, two retries).
    older = {"update_id": 10_000, "message": {**api._user_message(USER, "vi", "Lan"), "text": "/menu"}}
    newer = {"update_id": 10_001, "message": {**api._user_message(USER, "vi", "Lan"), "text": "/menu"}}
    for message in (older["message"], newer["message"]):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": 5}]
    await balancer.via(1, lambda: api.replay(newer))
    await api.wait_for(lambda: menus(api) >= shown + 2)
    await balancer.via(0, lambda: api.replay(older))
    await api.wait_for(lambda: menus(api) >= shown + 3)  # the older one is answered too
    await settled(api, balancer)
    assert menus(api) == shown + 3
    assert APOLOGY not in texts(api)


async def test_an_update_whose_worker_dies_mid_turn_is_redelivered_and_answered_once(cluster, mock_backend):
    api, balancer = cluster
    await balancer.via(0, lambda: api.user_says("/start", user_id=USER))
    await api.wait_for(lambda: api.bot_messages(USER))
    await balancer.via(0, lambda: api.user_presses_data("menu:open:status", api.last_bot_message(USER), user_id=USER))
    count = len(texts(api))
    await balancer.via(0, lambda: api.user_says(CODE, user_id=USER))
    await answered(api, CODE, after=count)  # worker 0 asks for the proof

    await set_faults(mock_backend.url, latency_ms=900)  # the lookup keeps worker 0 busy
    proof = {"update_id": 20_000, "message": {**api._user_message(USER, "vi", "Lan"), "text": LAN_ID}}
    count = len(texts(api))
    delivery = asyncio.create_task(balancer.via(0, lambda: api.replay(proof)))
    await asyncio.sleep(0.4)
    balancer.workers[0].kill()  # mid-turn: nothing of it was saved
    with pytest.raises(httpx.HTTPError):
        await delivery  # no 200: Telegram will deliver the update again
    await set_faults(mock_backend.url)
    assert await balancer.via(1, lambda: api.replay(proof)) == 200

    status = await answered(api, "Tình trạng:", after=count)
    assert CODE in status
    await settled(api, balancer)  # the live worker is done: a second answer would be here
    assert sum("Tình trạng:" in text for text in texts(api, after=count)) == 1
    assert APOLOGY not in texts(api)


@pytest.mark.slow
async def test_another_worker_takes_the_lead_when_the_leader_is_killed(cluster):
    """The housekeeping leader holds a PostgreSQL advisory lock on its own
    connection: SIGKILL ends that session, and the other worker takes over
    at its next try (every LEADER_RETRY_SECONDS) and runs the job."""
    api, balancer = cluster
    leads = "leader job housekeeping: this worker leads"
    leaders = await api.wait_for(lambda: [w for w in balancer.workers if leads in w.log_text()], timeout=30)
    assert len(leaders) == 1, "one leader at a time"
    (leader,) = leaders
    (other,) = [worker for worker in balancer.workers if worker is not leader]
    await asyncio.to_thread(leader.kill)
    await api.wait_for(lambda: leads in other.log_text(), timeout=LEADER_RETRY_SECONDS + 15)
    ran = await api.wait_for(lambda: re.search(r"housekeeping: \d+ old update ids pruned", other.log_text()), 15)
    assert ran, other.log_text()[-2000:]
