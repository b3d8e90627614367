"""Issue 18: a worker SIGKILLed during a burst of new citizens' first
messages, on Telegram, the Zalo Bot channel and the Zalo OA.
Two real `troly run --worker` processes share one PostgreSQL database (the
outbound queue and the send budget) behind one webhook address, against a
fake of the platform enforcing its limits. The replies the dead worker had
written down but not sent go out from the other worker once their lease
lapses: every citizen is answered, each once, but for the one reply the
platform may have taken in the instant the worker died, before it could
write down that it had: the platform cannot tell us, so it goes again
(at least once; never lost)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.zalo_bot_api import ZaloBotApiFake
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.faults.cluster import WEBHOOK_SECRET, Worker, running_workers, worker_environment, write_worker_config
from tests.outbound.scenarios import CITIZEN_IDS_FROM, OA_GREETING, TELEGRAM_LIMITS, ZALO_LIMITS, ZALO_OA_LIMITS
from tests.zalo.conftest import APP_ID, APP_SECRET, OA_SECRET_KEY

USERS = 40
ZALO_USERS = USERS // 2  # Zalo's limit is a third of Telegram's
LEASE_SECONDS = 2
OUTBOUND = f"outbound:\n  lease_seconds: {LEASE_SECONDS}\n  poll_seconds: 0.2\n"


@dataclass
class Platform:
    """What the test does with a platform's fake."""

    # Post the citizen's first message to that worker; True once it was taken.
    post: Callable[[Worker, str], Awaitable[bool]]
    wait_until: Callable[[Callable[[], bool], float], Awaitable[bool]]
    answers: Callable[[str], list[str]]  # the texts the bot sent the citizen
    sent_since: Callable[[set[str], float], bool]  # whether any of those citizens got a message after then
    limited: Callable[[], tuple[int, int]]  # the sends refused over the limit, and the calls they are among


@contextlib.asynccontextmanager
async def two_workers(
    tmp_path: Path, postgres_url: str, backend_url: str, env: dict[str, str], extra: str = ""
) -> AsyncIterator[list[Worker]]:
    config = write_worker_config(tmp_path / "deploy", postgres_url, backend_url, extra=extra + OUTBOUND)
    async with running_workers(config, env, tmp_path) as workers:
        yield workers


def without_telegram(**secrets: str) -> dict[str, str]:
    """The workers' environment for a Zalo channel alone."""
    env = worker_environment("", "")
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BASE_URL", "TELEGRAM_WEBHOOK_SECRET"):
        env.pop(name)
    env.update(secrets)
    return env


async def kill_a_worker_mid_burst(platform: Platform, workers: list[Worker], users: list[str]) -> None:
    first_half, second_half = users[: len(users) // 2], users[len(users) // 2 :]
    # Half the burst at once on worker 0: acknowledged once written down,
    # most of the replies still waiting for the pacer when it dies.
    await asyncio.gather(*(to_any_worker(platform, workers, 0, user) for user in first_half))
    workers[0].kill()
    killed_at = time.monotonic()
    for user in second_half:
        await to_any_worker(platform, workers, 1, user)

    assert await platform.wait_until(lambda: all(platform.answers(user) for user in users), 60)
    await asyncio.sleep(LEASE_SECONDS + 2)  # a reply sent twice would show by now
    answers = {user: platform.answers(user) for user in users}
    assert_answered_once(answers, expected=answers[second_half[-1]])  # a citizen the dead worker never saw
    assert platform.sent_since(set(first_half), killed_at), (
        "the dead worker had sent everything: the test did not test the crash"
    )
    # At most 1 % of the sends refused over the limit, and one in a small run:
    # the shared budget's slots leave 0.03 s in each second, which a send
    # delayed on a loaded machine may overrun (its reply then waits its turn).
    limited, calls = platform.limited()
    assert limited <= max(1, calls // 100), limited


async def to_any_worker(platform: Platform, workers: list[Worker], index: int, user: str) -> None:
    """Post the citizen's message to worker `index`; as the platforms do,
    deliver it again (to the other worker) when the request failed."""
    for attempt in range(2 * len(workers)):
        try:
            if await platform.post(workers[(index + attempt) % len(workers)], user):
                return
        except httpx.HTTPError:
            continue
    raise AssertionError("no worker took the update")


def assert_answered_once(answers: dict, expected: list[str]) -> None:
    """Everyone got the answer; once, but for at most one citizen, whose
    reply the platform took as the worker died (sent again: never lost)."""
    twice = [user for user, texts in answers.items() if texts != expected]
    assert len(twice) <= 1, Counter(len(texts) for texts in answers.values())
    for user in twice:  # the same messages, the ones in flight twice
        assert set(answers[user]) == set(expected) and len(answers[user]) <= 2 * len(expected), answers[user]


# --- Telegram -----------------------------------------------------------------
def telegram(api: FakeTelegramApi) -> Platform:
    updates: dict[str, dict] = {}

    async def post(worker: Worker, user: str) -> bool:
        api.webhook = {"url": worker.webhook_url, "secret_token": WEBHOOK_SECRET}
        if user in updates:
            await api.replay(updates[user])
        else:
            updates[user] = await api.user_says("/start", user_id=int(user))
        return True

    async def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
        return bool(await api.wait_for(predicate, timeout=timeout))

    return Platform(
        post,
        wait_until,
        answers=lambda user: [message.text for message in api.bot_messages(user)],
        sent_since=lambda users, moment: any(
            call.status == 200 and call.chat_id in users and call.at > moment for call in api.calls
        ),
        limited=lambda: (sum(call.status == 429 for call in api.calls), len(api.calls)),
    )


@pytest.fixture
async def cluster(tmp_path, postgres_url, mock_backend):
    async with FakeTelegramApi(rate_limits=TELEGRAM_LIMITS) as api:
        env = worker_environment(api.token, api.base_url)
        async with two_workers(tmp_path, postgres_url, mock_backend.url, env) as workers:
            yield api, workers


async def test_a_worker_killed_mid_burst_leaves_every_citizen_answered_exactly_once(cluster):
    api, workers = cluster
    await kill_a_worker_mid_burst(telegram(api), workers, [str(CITIZEN_IDS_FROM + n) for n in range(USERS)])


# --- the Zalo Bot channel -----------------------------------------------------
ZALO_TOKEN = "1459232241454765289:crash-test-token"
ZALO_WEBHOOK_PATH = "/zalo/bot/webhook"


def zalo_bot(zalo: ZaloBotApiFake) -> Platform:
    updates: dict[str, dict] = {}

    async def post(worker: Worker, user: str) -> bool:
        zalo.state.webhook_url = f"http://127.0.0.1:{worker.port}{ZALO_WEBHOOK_PATH}"
        return await zalo.deliver(updates.setdefault(user, zalo.text_update(user, "/start"))) == 200

    return Platform(
        post,
        zalo.wait_until,
        answers=lambda user: [message.text for message in zalo.messages_to(user)],
        sent_since=lambda users, moment: any(
            message.chat_id in users and message.at > moment for message in zalo.state.sent
        ),
        limited=lambda: (zalo.rate_limited, len(zalo.state.sent)),
    )


@pytest.fixture
async def zalo_cluster(tmp_path, postgres_url, mock_backend):
    async with ZaloBotApiFake(ZALO_TOKEN, rate_limits=ZALO_LIMITS) as zalo:
        env = without_telegram(
            ZALO_BOT_TOKEN=ZALO_TOKEN, ZALO_BOT_BASE_URL=zalo.base_url, ZALO_BOT_WEBHOOK_SECRET=WEBHOOK_SECRET
        )
        config = f"zalo_bot:\n  webhook_url: https://bot.example.test{ZALO_WEBHOOK_PATH}\n"
        async with two_workers(tmp_path, postgres_url, mock_backend.url, env, config) as workers:
            yield zalo, workers


async def test_a_zalo_worker_killed_mid_burst_leaves_every_citizen_answered_exactly_once(zalo_cluster):
    zalo, workers = zalo_cluster
    await kill_a_worker_mid_burst(zalo_bot(zalo), workers, [f"zalo-citizen-{n}" for n in range(ZALO_USERS)])


# --- the Zalo OA ----------------------------------------------------------------
OA_WEBHOOK_PATH = "/zalo/oa/webhook"  # the default `zalo_oa.webhook_path`


def zalo_oa(zalo: ZaloOaApiFake) -> Platform:
    async def post(worker: Worker, user: str) -> bool:
        zalo.webhook_url = f"http://127.0.0.1:{worker.port}{OA_WEBHOOK_PATH}"
        return await zalo.user_says(user, OA_GREETING, msg_id=f"hello-{user}") == 200

    return Platform(
        post,
        zalo.wait_until,
        answers=lambda user: [message.text for message in zalo.messages_to(user)],
        sent_since=lambda users, moment: any(message.user_id in users and message.at > moment for message in zalo.sent),
        limited=lambda: (zalo.rate_limited, len(zalo.sent)),
    )


@pytest.fixture
async def zalo_oa_cluster(tmp_path, postgres_url, mock_backend):
    async with ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET, rate_limits=ZALO_OA_LIMITS) as zalo:
        access, refresh = zalo.issue_tokens()
        env = without_telegram(
            ZALO_OA_APP_ID=APP_ID,
            ZALO_OA_SECRET_KEY=OA_SECRET_KEY,
            ZALO_OA_APP_SECRET=APP_SECRET,
            ZALO_OA_ACCESS_TOKEN=access,
            ZALO_OA_REFRESH_TOKEN=refresh,
            ZALO_OA_API_BASE_URL=zalo.base_url,
            ZALO_OA_OAUTH_BASE_URL=zalo.base_url,
        )
        async with two_workers(tmp_path, postgres_url, mock_backend.url, env) as workers:
            yield zalo, workers


async def test_a_zalo_oa_worker_killed_mid_burst_leaves_every_follower_answered_exactly_once(zalo_oa_cluster):
    zalo, workers = zalo_oa_cluster
    await kill_a_worker_mid_burst(zalo_oa(zalo), workers, [f"oa-follower-{n}" for n in range(ZALO_USERS)])
