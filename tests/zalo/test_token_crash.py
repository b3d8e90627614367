"""The OA's single-use refresh token against real process crashes: a bot
process is killed (os._exit) at each point of a refresh, then a new process
starts on the same database and must carry on."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import pytest

from core.paths import PROJECT_ROOT
from storage.oa_tokens import OaTokenStore, TokenPair
from storage.sql import SqlStorage
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.zalo.conftest import APP_ID, APP_SECRET, OA_SECRET_KEY
from tests.zalo.refresh_process import CRASHED


@pytest.fixture
async def zalo():
    async with ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET) as fake:
        yield fake


@pytest.fixture
async def db_url(tmp_path, zalo):
    """A database holding an expired access token and the valid refresh token."""
    url = f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3"
    storage = SqlStorage(url)
    await storage.init()
    access, refresh = zalo.issue_tokens()
    await OaTokenStore(storage, f"zalo_oa:{APP_ID}").seed(
        TokenPair(access, datetime.now(UTC) - timedelta(hours=1), refresh)
    )
    await storage.close()
    return url


async def run_bot(db_url: str, zalo: ZaloOaApiFake, crash_point: str = "none") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.zalo.refresh_process",
        db_url,
        zalo.base_url,
        APP_ID,
        APP_SECRET,
        crash_point,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode().strip()


async def stored(db_url: str) -> TokenPair:
    storage = SqlStorage(db_url)
    await storage.init()
    try:
        return await OaTokenStore(storage, f"zalo_oa:{APP_ID}").load()
    finally:
        await storage.close()


async def test_a_crash_before_zalo_is_called_is_retried_with_the_same_refresh_token(db_url, zalo):
    refresh = zalo.refresh_token
    code, _ = await run_bot(db_url, zalo, "before_request")
    assert code == CRASHED and zalo.spent_refresh_tokens == []
    assert (await stored(db_url)).refresh_started_at is not None  # the interrupted refresh is on record

    code, access = await run_bot(db_url, zalo)
    assert code == 0 and access in zalo.access_tokens
    assert zalo.spent_refresh_tokens == [refresh]
    after = await stored(db_url)
    assert after.refresh_token == zalo.refresh_token and after.refresh_started_at is None


async def test_a_crash_right_after_saving_keeps_the_new_single_use_token(db_url, zalo):
    refresh = zalo.refresh_token
    code, _ = await run_bot(db_url, zalo, "after_save")
    assert code == CRASHED
    new_refresh = zalo.refresh_token
    assert (await stored(db_url)).refresh_token == new_refresh

    code, access = await run_bot(db_url, zalo)
    assert code == 0 and access in zalo.access_tokens
    assert zalo.spent_refresh_tokens == [refresh]  # the spent token was never offered again
    assert zalo.refresh_calls == 1


async def test_a_crash_inside_the_save_leaves_the_old_pair_whole_and_the_refresh_on_record(db_url, zalo):
    before = await stored(db_url)
    code, _ = await run_bot(db_url, zalo, "during_save")
    assert code == CRASHED and zalo.spent_refresh_tokens == [before.refresh_token]
    after = await stored(db_url)
    # Atomic: never the new access token with the old refresh token or the reverse.
    assert (after.access_token, after.refresh_token) == (before.access_token, before.refresh_token)
    assert after.refresh_started_at is not None
    # Zalo already spent that token and its answer died with the process: the
    # next start says clearly that the OA needs authorising again (exit 3),
    # instead of looping on a dead token.
    code, _ = await run_bot(db_url, zalo)
    assert code == 3


async def test_a_normal_refresh_in_a_fresh_process(db_url, zalo):
    code, access = await run_bot(db_url, zalo)
    assert code == 0 and access in zalo.access_tokens
    code, again = await run_bot(db_url, zalo)
    assert again == access and zalo.refresh_calls == 1  # still fresh: no second refresh


async def test_a_database_that_refuses_the_save_does_not_lose_the_new_pair(zalo, tmp_path):
    from bot.channels.zalo_oa_oauth import OaTokens

    storage = SqlStorage(f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3")
    await storage.init()
    store = OaTokenStore(storage, f"zalo_oa:{APP_ID}")
    access, refresh = zalo.issue_tokens()
    await store.seed(TokenPair(access, datetime.now(UTC) - timedelta(hours=1), refresh))
    tokens = OaTokens(store, zalo.base_url, APP_ID, APP_SECRET, refresh_margin=timedelta(minutes=10))
    real_finish, failures = store.finish_refresh, []

    async def database_down(*args, **kwargs):
        failures.append(1)
        raise OSError("disk I/O error")

    store.finish_refresh = database_down
    first = await tokens.access_token()
    assert first in zalo.access_tokens and len(failures) == 4  # retried, then kept in memory
    assert await tokens.access_token() == first  # still usable, no second refresh
    store.finish_refresh = real_finish  # the database is back
    assert await tokens.access_token() == first
    saved = await store.load()
    assert saved.access_token == first and saved.refresh_token == zalo.refresh_token
    assert saved.refresh_started_at is None and zalo.refresh_calls == 1
    await tokens.aclose()
    await storage.close()
