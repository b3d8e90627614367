"""Delivery of status events to the bot: signed POSTs from the outbox table,
retried with exponential backoff, kept across restarts."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from backend import webhooks

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 300.0


class WebhookSender:
    def __init__(self, service, client: httpx.AsyncClient | None = None) -> None:
        self.service = service
        self.client = client  # set while the app runs (its lifespan)
        self._one_at_a_time = asyncio.Lock()  # the tick and admin calls must not send an event twice

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure: base, 2x, 4x... capped."""
        return min(self.service.settings.webhook_backoff_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)

    async def deliver_due(self) -> int:
        """Try every event that is due; returns how many were delivered."""
        async with self._one_at_a_time:
            return await self._deliver_due()

    async def _deliver_due(self) -> int:
        settings = self.service.settings
        if not settings.webhook_url or self.client is None:
            return 0
        db = self.service.db
        rows = db.execute(
            "SELECT * FROM outbox WHERE delivered_at IS NULL AND gave_up = 0 AND next_attempt_at <= ?"
            " ORDER BY id LIMIT 50",
            (time.time(),),
        ).fetchall()
        delivered = 0
        for row in rows:
            body = row["body"].encode()
            headers = webhooks.signed_headers(self.service.webhook_secret, body, row["event_id"])
            error = None
            try:
                response = await self.client.post(
                    settings.webhook_url, content=body, headers=headers, timeout=settings.webhook_timeout_seconds
                )
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            attempts = row["attempts"] + 1
            if error is None:
                db.execute(
                    "UPDATE outbox SET attempts = ?, delivered_at = ? WHERE id = ?", (attempts, time.time(), row["id"])
                )
                delivered += 1
                continue
            gave_up = attempts >= settings.webhook_max_attempts
            db.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, gave_up = ?, last_error = ? WHERE id = ?",
                (attempts, time.time() + self.backoff(attempts), int(gave_up), error, row["id"]),
            )
            log.warning(
                "status event %s not delivered (attempt %d%s): %s",
                row["event_id"],
                attempts,
                ", giving up" if gave_up else "",
                error,
            )
        return delivered
