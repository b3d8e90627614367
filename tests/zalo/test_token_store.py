"""The OA token store on every database: two bot workers sharing one
database never spend the single-use refresh token twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.zalo_oa_oauth import OaTokens
from storage.oa_tokens import OaTokenStore, TokenPair
from storage.sql import SqlStorage
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.postgres import postgres_server_url, postgres_url  # noqa: F401  (fixtures)
from tests.zalo.conftest import APP_ID, APP_SECRET, OA_SECRET_KEY


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3"
    return request.getfixturevalue("postgres_url")


async def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(storage_url):
    async with ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET) as zalo:
        workers = [SqlStorage(storage_url), SqlStorage(storage_url)]
        for storage in workers:
            await storage.init()
        access, refresh = zalo.issue_tokens()
        seed = TokenPair(access, datetime.now(UTC) - timedelta(minutes=1), refresh)  # expired: both must refresh
        tokens = [
            OaTokens(
                OaTokenStore(storage, f"zalo_oa:{APP_ID}"),
                zalo.base_url,
                APP_ID,
                APP_SECRET,
                refresh_margin=timedelta(minutes=10),
                seed=seed,
            )
            for storage in workers
        ]
        await tokens[0].store.seed(seed)
        got = await asyncio.gather(*(worker.access_token() for worker in tokens for _ in range(3)))
        assert set(got) == zalo.access_tokens  # everyone got the one new token
        assert zalo.spent_refresh_tokens == [refresh]
        for worker, storage in zip(tokens, workers):
            await worker.aclose()
            await storage.close()


async def test_a_new_configured_refresh_token_replaces_the_stored_pair_once(storage_url):
    storage = SqlStorage(storage_url)
    await storage.init()
    store = OaTokenStore(storage, f"zalo_oa:{APP_ID}")
    later = datetime.now(UTC) + timedelta(hours=1)
    await store.seed(TokenPair("a1", later, "r1"))
    await store.finish_refresh("r1", TokenPair("a2", later, "r2"))  # rotated in service
    assert (await store.seed(TokenPair("a1", later, "r1"))).refresh_token == "r2"  # same env: keep rotated
    assert (await store.seed(TokenPair("a9", later, "r9"))).refresh_token == "r9"  # re-authorised: adopt
    await storage.close()


async def test_workers_starting_at_once_both_adopt_the_configured_tokens(storage_url):
    """Both read "no tokens yet" and write them: the second write must not
    fail its worker's start (it did: a unique violation, the worker exited)."""
    workers = [SqlStorage(storage_url), SqlStorage(storage_url)]
    for storage in workers:
        await storage.init()
    later = datetime.now(UTC) + timedelta(hours=1)
    for attempt in range(5):  # the race is narrow: several tries, each on an account of its own
        stores = [OaTokenStore(storage, f"zalo_oa:{APP_ID}:{attempt}") for storage in workers]
        pairs = await asyncio.gather(*(store.seed(TokenPair("a1", later, "r1")) for store in stores))
        assert [pair.refresh_token for pair in pairs] == ["r1", "r1"]
    for storage in workers:
        await storage.close()
