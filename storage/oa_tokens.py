"""OAuth token pairs of platform accounts (the `oauth_tokens` table): the
Zalo OA's, refreshed by `bot.channels.zalo_oa.OaTokens`.

`OaTokenStore` writes them so that the single-use refresh token is never
lost:

1. `begin_refresh` marks the row (write-ahead) before the token is spent;
   only one worker can hold the mark, so a token is never spent twice;
2. `finish_refresh` saves the new pair and clears the mark in one
   transaction, before the new access token is used anywhere.

A crash before 2 leaves the old, consistent pair with the mark set; the
next start sees the interrupted refresh and retries it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from storage.engines import dialect_insert
from storage.schema import oauth_tokens
from storage.sql import SqlStorage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_started_at: datetime | None = None


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class OaTokenStore:
    """One account's token pair in the bot's database (see the module doc)."""

    def __init__(self, storage: SqlStorage, account: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._storage = storage
        self.account = account
        self._clock = clock

    async def load(self) -> TokenPair | None:
        table = oauth_tokens
        async with self._storage.transaction() as conn:
            row = (await conn.execute(select(table).where(table.c.account == self.account))).one_or_none()
        if row is None:
            return None
        return TokenPair(row.access_token, row.access_expires_at, row.refresh_token, row.refresh_started_at)

    async def seed(self, pair: TokenPair) -> TokenPair:
        """Adopt the operator's tokens (environment) if the account has none,
        or if the operator gave a refresh token never seen before (they
        authorised the OA again). Returns the pair in force."""
        table, now = oauth_tokens, self._clock()
        seed = _fingerprint(pair.refresh_token)
        values = {
            "access_token": pair.access_token,
            "access_expires_at": pair.access_expires_at,
            "refresh_token": pair.refresh_token,
            "seed_fingerprint": seed,
            "refresh_started_at": None,
            "updated_at": now,
        }
        async with self._storage.transaction(write=True) as conn:
            row = (await conn.execute(select(table).where(table.c.account == self.account))).one_or_none()
            if row is None:  # another worker starting at the same time may write it first: theirs stands
                insert = dialect_insert(self._storage.dialect)(table).values(account=self.account, **values)
                await conn.execute(insert.on_conflict_do_nothing())
            elif row.seed_fingerprint != seed:
                await conn.execute(update(table).where(table.c.account == self.account).values(**values))
                log.info("zalo_oa: adopted newly configured OA tokens")
        loaded = await self.load()
        assert loaded is not None
        return loaded

    async def begin_refresh(self, refresh_token: str, lease: timedelta) -> bool:
        """Take the right to spend `refresh_token`: False if the stored token
        is another one (someone refreshed already) or another worker's mark
        is younger than `lease`."""
        table, now = oauth_tokens, self._clock()
        async with self._storage.transaction(write=True) as conn:
            result = await conn.execute(
                update(table)
                .where(
                    table.c.account == self.account,
                    table.c.refresh_token == refresh_token,
                    (table.c.refresh_started_at.is_(None)) | (table.c.refresh_started_at < now - lease),
                )
                .values(refresh_started_at=now)
            )
        return result.rowcount == 1

    async def finish_refresh(self, spent_refresh_token: str, new: TokenPair) -> None:
        """Save the new pair and clear the mark, atomically."""
        table = oauth_tokens
        async with self._storage.transaction(write=True) as conn:
            result = await conn.execute(
                update(table)
                .where(table.c.account == self.account, table.c.refresh_token == spent_refresh_token)
                .values(
                    access_token=new.access_token,
                    access_expires_at=new.access_expires_at,
                    refresh_token=new.refresh_token,
                    refresh_started_at=None,
                    updated_at=self._clock(),
                )
            )
        if result.rowcount != 1:
            raise RuntimeError("the OA token row changed during a refresh")

    async def abandon_refresh(self, refresh_token: str) -> None:
        """Clear our mark when the token was certainly not spent."""
        table = oauth_tokens
        async with self._storage.transaction(write=True) as conn:
            await conn.execute(
                update(table)
                .where(table.c.account == self.account, table.c.refresh_token == refresh_token)
                .values(refresh_started_at=None)
            )
