"""A bot process that refreshes the OA token and can be killed at a chosen
point (`os._exit`, no clean-up), for the crash tests in test_token_crash.py.

    python -m tests.zalo.refresh_process DB_URL OAUTH_BASE_URL APP_ID APP_SECRET CRASH_POINT

CRASH_POINT: `none`, `before_request` (the refresh is written ahead, Zalo not
yet called), `during_save` (Zalo answered; the process dies inside the
transaction saving the new pair, before COMMIT), `after_save` (the new pair
is committed, nothing used it yet). Prints the access token in force on
success; exit code 3 when Zalo asks for re-authorisation.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import httpx
from sqlalchemy import event

from bot.channels.zalo_oa_oauth import OaTokens, ReauthorisationNeeded
from storage.oa_tokens import OaTokenStore
from storage.sql import SqlStorage

CRASHED = 137


async def main(db_url: str, oauth_base_url: str, app_id: str, app_secret: str, crash_point: str) -> int:
    storage = SqlStorage(db_url)
    await storage.init()
    store = OaTokenStore(storage, account=f"zalo_oa:{app_id}")
    tokens = OaTokens(
        store, oauth_base_url, app_id, app_secret, refresh_margin=timedelta(minutes=10), lease=timedelta(seconds=0)
    )
    if crash_point == "before_request":

        async def die_instead_of_posting(*args, **kwargs):
            os._exit(CRASHED)

        httpx.AsyncClient.post = die_instead_of_posting
    elif crash_point == "during_save":
        finish = store.finish_refresh

        async def finish_then_die_before_commit(*args, **kwargs):
            # The save's UPDATE runs; the process dies when it asks to COMMIT.
            event.listen(storage._engine.sync_engine, "commit", lambda conn: os._exit(CRASHED))
            await finish(*args, **kwargs)

        store.finish_refresh = finish_then_die_before_commit
    elif crash_point == "after_save":
        finish = store.finish_refresh

        async def finish_then_die(*args, **kwargs):
            await finish(*args, **kwargs)
            os._exit(CRASHED)

        store.finish_refresh = finish_then_die
    try:
        print(await tokens.access_token(), flush=True)
    except ReauthorisationNeeded:
        return 3
    finally:
        await tokens.aclose()
        await storage.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:6])))
