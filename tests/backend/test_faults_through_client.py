"""Every fault mode, seen the way the bot sees it: through BackendClient.
The citizen always gets an answer within the client's timeout, with the
last known status when the backend cannot answer."""

from __future__ import annotations

import time

import httpx
import pytest

from backend.client import BackendClient, BackendUnavailable, RequestStatus
from tests.backend.conftest import DEMO

CODE, PROOF = DEMO["PROCESSING"]


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests; answers 503 itself for the first `fail_first`."""

    def __init__(self, fail_first: int = 0) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.fail_first = fail_first
        self.calls = 0

    async def handle_async_request(self, request):
        self.calls += 1
        if self.calls <= self.fail_first:
            return httpx.Response(503, json={"error": "down"})
        return await self.inner.handle_async_request(request)

    async def aclose(self):
        await self.inner.aclose()


async def set_faults(http, **faults):
    response = await http.put("/admin/faults", json=faults)
    assert response.status_code == 200


async def test_down_backend_gives_last_known_status_with_its_age(backend, http):
    async with BackendClient(backend.url, timeout=1.0) as client:
        fresh = await client.lookup(CODE, PROOF)
        assert fresh.from_cache is False and fresh.status == RequestStatus.PROCESSING
        await set_faults(http, down=True)
        with pytest.raises(BackendUnavailable) as caught:
            await client.lookup(CODE, PROOF)
    last = caught.value.last_known
    assert last is not None and last.from_cache and last.status == RequestStatus.PROCESSING
    assert last.age_seconds >= 0


async def test_last_known_status_is_never_given_to_a_different_proof(backend, http):
    async with BackendClient(backend.url, timeout=1.0) as client:
        await client.lookup(CODE, PROOF)
        await set_faults(http, down=True)
        with pytest.raises(BackendUnavailable) as caught:
            await client.lookup(CODE, DEMO["COMPLETED"][1])
    assert caught.value.last_known is None


async def test_injected_errors_are_retried_then_reported_unavailable_within_the_timeout(backend, http):
    await set_faults(http, error_rate=1.0)
    transport = CountingTransport()
    async with BackendClient(backend.url, timeout=2.0, retries=2, backoff=0.05, transport=transport) as client:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="HTTP 502"):
            await client.lookup(CODE, PROOF)
        assert time.monotonic() - started < 2.5
    assert transport.calls == 3


async def test_a_passing_glitch_is_hidden_by_a_retry(backend):
    transport = CountingTransport(fail_first=2)
    async with BackendClient(backend.url, timeout=2.0, retries=2, backoff=0.05, transport=transport) as client:
        view = await client.lookup(CODE, PROOF)
    assert view.status == RequestStatus.PROCESSING and transport.calls == 3


async def test_payment_creation_is_not_retried(backend):
    transport = CountingTransport(fail_first=5)
    async with BackendClient(backend.url, timeout=2.0, retries=3, transport=transport) as client:
        with pytest.raises(BackendUnavailable):
            await client.create_payment(*DEMO["AWAITING_PAYMENT"])
    assert transport.calls == 1


async def test_a_hanging_backend_is_cut_off_at_the_client_timeout(backend):
    headers = {"X-Mock-Fault": "timeout"}
    async with BackendClient(backend.url, timeout=0.5, headers=headers) as client:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="timeout"):
            await client.lookup(CODE, PROOF)
        assert time.monotonic() - started < 1.5  # 0.5 s budget, slack for a busy CI machine


async def test_added_latency_under_the_timeout_still_answers(backend):
    async with BackendClient(backend.url, timeout=2.0, headers={"X-Mock-Fault": "latency=300"}) as client:
        started = time.monotonic()
        view = await client.lookup(CODE, PROOF)
        assert time.monotonic() - started >= 0.3 and view.status == RequestStatus.PROCESSING


async def test_run_wide_latency_over_the_timeout_is_unavailable(backend, http):
    await set_faults(http, latency_ms=1500)
    async with BackendClient(backend.url, timeout=0.4) as client:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            await client.lookup(CODE, PROOF)
        assert time.monotonic() - started < 1.4  # 0.4 s budget, slack for a busy CI machine


async def test_per_request_down_and_error_headers(backend):
    for fault in ("down", "error"):
        async with BackendClient(backend.url, timeout=1.0, retries=0, headers={"X-Mock-Fault": fault}) as client:
            with pytest.raises(BackendUnavailable):
                await client.lookup(CODE, PROOF)


async def test_stopped_backend_is_unavailable_not_a_crash(settings):
    from backend.runner import start_server
    from backend.server import create_app

    running = await start_server(create_app(settings))
    async with BackendClient(running.url, timeout=1.0, backoff=0.05) as client:
        await client.lookup(CODE, PROOF)
        await running.stop()
        with pytest.raises(BackendUnavailable) as caught:
            await client.lookup(CODE, PROOF)
    running.service.close()
    assert caught.value.last_known is not None


async def test_circuit_opens_after_repeated_failures_and_closes_after_a_good_trial(backend):
    transport = CountingTransport(fail_first=2)
    async with BackendClient(
        backend.url, timeout=1.0, retries=0, failure_threshold=2, reset_seconds=0.3, transport=transport
    ) as client:
        for _ in range(2):
            with pytest.raises(BackendUnavailable):
                await client.lookup(CODE, PROOF)
        with pytest.raises(BackendUnavailable, match="circuit open"):
            await client.lookup(CODE, PROOF)
        assert transport.calls == 2  # the open circuit did not call the backend
        time.sleep(0.35)
        assert (await client.lookup(CODE, PROOF)).status == RequestStatus.PROCESSING
        assert not client.breaker.is_open
