"""The Zalo OA's OAuth v4 access token: refreshed before it expires or when
Zalo says it is invalid (-216). The refresh token is single-use, so a
refresh is written ahead in the database before it is spent and the new
pair is saved with the mark cleared in one transaction
(`storage.oa_tokens.OaTokenStore`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.channels.base import DeliveryError, TransientError
from storage.oa_tokens import OaTokenStore, TokenPair

log = logging.getLogger(__name__)


class ReauthorisationNeeded(DeliveryError):
    """Zalo refused our refresh token: an officer must authorise the OA again
    and set a new ZALO_OA_REFRESH_TOKEN (see README, "Zalo")."""


class OaTokens:
    """Hands out a valid access token, refreshing through OAuth v4 when it is
    about to expire or Zalo called it invalid."""

    def __init__(
        self,
        store: OaTokenStore,
        oauth_base_url: str,
        app_id: str,
        app_secret: str | None,
        refresh_margin: timedelta,
        lease: timedelta = timedelta(seconds=60),
        timeout_seconds: float = 10.0,
        seed: TokenPair | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._seed = seed  # the operator's tokens, adopted at first use (OaTokenStore.seed)
        self._client: httpx.AsyncClient | None = None
        self._timeout = timeout_seconds
        self._url = oauth_base_url.rstrip("/") + "/v4/oa/access_token"
        self._app_id = app_id
        self._app_secret = app_secret
        self._margin = refresh_margin
        self._lease = lease
        self._clock = clock
        self._lock = asyncio.Lock()
        # A new pair Zalo gave us that the database refused to save (yet):
        # (spent refresh token, new pair). Saved again at every use.
        self._unsaved: tuple[str, TokenPair] | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def access_token(self) -> str:
        if self._seed is not None:
            seed, self._seed = self._seed, None
            await self.store.seed(seed)
        if self._unsaved is not None:
            async with self._lock:
                if self._unsaved is not None and not await self._save(*self._unsaved, attempts=1):
                    return self._unsaved[1].access_token
        pair = await self.store.load()
        if pair is None:
            raise ReauthorisationNeeded("no OA tokens: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN")
        if not self._fresh(pair):
            pair = await self.refresh(pair.access_token)
        return pair.access_token

    def _fresh(self, pair: TokenPair) -> bool:
        return pair.access_expires_at - self._margin > self._clock()

    async def refresh(self, rejected_access_token: str | None = None) -> TokenPair:
        """Refresh once, even when many callers ask at the same time; a caller
        whose token was already replaced gets the new one without spending."""
        async with self._lock:
            for _ in range(50):
                pair = await self.store.load()
                assert pair is not None
                if self._fresh(pair) and pair.access_token != rejected_access_token:
                    return pair  # still good, or someone (maybe another worker) refreshed already
                if await self.store.begin_refresh(pair.refresh_token, self._lease):
                    return await self._spend(pair)
                await asyncio.sleep(0.1)  # another worker is refreshing: wait for its result
            raise TransientError("the OA token refresh is taking too long")

    async def _spend(self, pair: TokenPair) -> TokenPair:
        if not self._app_secret:
            await self.store.abandon_refresh(pair.refresh_token)
            raise ReauthorisationNeeded("ZALO_OA_APP_SECRET is not set: the OA token cannot be refreshed")
        if pair.refresh_started_at is not None:
            log.warning("zalo_oa: an interrupted token refresh is being retried")
        try:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=self._timeout)
            response = await self._client.post(
                self._url,
                headers={"secret_key": self._app_secret},
                data={"refresh_token": pair.refresh_token, "app_id": self._app_id, "grant_type": "refresh_token"},
            )
        except httpx.ConnectError:
            await self.store.abandon_refresh(pair.refresh_token)  # never reached Zalo: nothing spent
            raise TransientError("the Zalo OAuth server is unreachable") from None
        except httpx.HTTPError:
            # Maybe spent, maybe not: keep the mark, the next attempt retries.
            raise TransientError("the OA token refresh was interrupted") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not (isinstance(body, dict) and body.get("access_token") and body.get("refresh_token")):
            await self.store.abandon_refresh(pair.refresh_token)
            if response.status_code >= 500:
                raise TransientError(f"the Zalo OAuth server answered {response.status_code}")
            code = body.get("error") if isinstance(body, dict) else None
            log.error("zalo_oa: Zalo refused the refresh token (error %s); the OA must be authorised again", code)
            raise ReauthorisationNeeded(f"Zalo refused the refresh token (error {code})")
        # From here the old refresh token is spent: nothing may raise before the save.
        new = TokenPair(
            access_token=str(body["access_token"]),
            access_expires_at=self._clock() + timedelta(seconds=_seconds(body.get("expires_in"))),
            refresh_token=str(body["refresh_token"]),
        )
        await self._save(pair.refresh_token, new)
        log.info("zalo_oa: access token refreshed")
        return new

    async def _save(self, spent: str, new: TokenPair, attempts: int = 4) -> bool:
        """Persist a new pair; while the database refuses, keep it in memory
        (the spent token is gone for good, so this pair is the only key left)."""
        for attempt in range(attempts):
            try:
                await self.store.finish_refresh(spent, new)
            except Exception:
                if attempt < attempts - 1:
                    await asyncio.sleep(0.2 * 2**attempt)
                continue
            self._unsaved = None
            return True
        log.critical("zalo_oa: the refreshed OA tokens could not be saved; keeping them in memory and retrying")
        self._unsaved = (spent, new)
        return False


def _seconds(value: Any, default: int = 3600) -> int:
    """Zalo sends `expires_in` as a string of seconds; be lenient."""
    try:
        return max(60, int(float(value)))
    except (TypeError, ValueError):
        return default
