"""Status events are POSTed to the bot signed with HMAC-SHA256 and retried
with backoff until the bot accepts them."""

from __future__ import annotations

import asyncio
import json
import time

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from backend import webhooks
from backend.runner import start_server
from backend.server import create_app
from tests.backend.conftest import DEMO, make_settings

SECRET = b"test-webhook-secret"


class Receiver:
    """A loopback stand-in for the bot's /hooks/backend: fails the first
    `failures` deliveries, then accepts; records every attempt."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts: list[tuple[float, bytes, dict]] = []
        self.app = Starlette(routes=[Route("/hooks/backend", self.receive, methods=["POST"])])

    async def receive(self, request):
        self.attempts.append((time.monotonic(), await request.body(), dict(request.headers)))
        if len(self.attempts) <= self.failures:
            return Response(status_code=503)
        ok = webhooks.verify_signature(SECRET, self.attempts[-1][1], request.headers)
        return Response(status_code=204 if ok else 401)


async def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def run_backend(tmp_path, receiver_url, **overrides):
    settings = make_settings(tmp_path, webhook_url=receiver_url, webhook_backoff_seconds=0.1, **overrides)
    return await start_server(create_app(settings))


async def test_status_change_is_posted_signed_and_verifiable(tmp_path):
    receiver = Receiver()
    hook = await start_server(receiver.app)
    backend = await run_backend(tmp_path, f"{hook.url}/hooks/backend")
    try:
        code = DEMO["PROCESSING"][0]
        backend.service.fast_forward_request(code)
        await wait_for(lambda: receiver.attempts)
        _, body, headers = receiver.attempts[0]
        event = json.loads(body)
        assert event["code"] == code and event["status"] == "COMPLETED" and event["previous_status"] == "PROCESSING"
        assert headers["x-troly-signature"].startswith("sha256=")
        assert webhooks.verify_signature(SECRET, body, headers)
        assert "079085001234" not in body.decode()  # no personal data in events
    finally:
        await backend.stop()
        await hook.stop()
        backend.service.close()


async def test_failed_deliveries_are_retried_with_growing_backoff(tmp_path):
    receiver = Receiver(failures=3)
    hook = await start_server(receiver.app)
    backend = await run_backend(tmp_path, f"{hook.url}/hooks/backend")
    try:
        backend.service.fast_forward_request(DEMO["RECEIVED"][0])
        await wait_for(lambda: len(receiver.attempts) >= 4)
        times = [t for t, _, _ in receiver.attempts]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps[0] >= 0.09 and gaps[2] > gaps[0]  # 0.1 s, 0.2 s, 0.4 s (+ tick)
        assert len({headers["x-troly-event-id"] for _, _, headers in receiver.attempts}) == 1  # same event
        await wait_for(
            lambda: (
                backend.service.db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL").fetchone()[0]
                == 1
            )
        )
    finally:
        await backend.stop()
        await hook.stop()
        backend.service.close()


async def test_delivery_gives_up_after_the_configured_attempts(tmp_path):
    receiver = Receiver(failures=100)
    hook = await start_server(receiver.app)
    backend = await run_backend(tmp_path, f"{hook.url}/hooks/backend", webhook_max_attempts=2)
    try:
        backend.service.fast_forward_request(DEMO["RECEIVED"][0])
        await wait_for(lambda: backend.service.db.execute("SELECT gave_up FROM outbox").fetchone()[0] == 1)
        assert len(receiver.attempts) == 2
    finally:
        await backend.stop()
        await hook.stop()
        backend.service.close()


def test_signature_check_refuses_tampering_wrong_secret_and_stale_events():
    body = b'{"code":"x","status":"COMPLETED"}'
    now = time.time()
    headers = webhooks.signed_headers(SECRET, body, "event-1", now=now)
    assert webhooks.verify_signature(SECRET, body, headers, now=now)
    assert not webhooks.verify_signature(SECRET, body + b" ", headers, now=now)
    assert not webhooks.verify_signature(b"other secret", body, headers, now=now)
    assert not webhooks.verify_signature(SECRET, body, headers, now=now + 301)
    assert not webhooks.verify_signature(SECRET, body, {**headers, "X-Troly-Timestamp": "abc"}, now=now)
    assert not webhooks.verify_signature(SECRET, body, {}, now=now)
    lower = {k.lower(): v for k, v in headers.items()}
    assert webhooks.verify_signature(SECRET, body, lower, now=now)
