"""The HTTP endpoints fuzzed from their OpenAPI descriptions with
schemathesis (issue 8, item 4): the mock backend's /openapi.json and the
bot's own (web chat API, backend hook, media links). Any input, valid or
not, gets an answer below 500.

Both servers run on loopback ports; schemathesis' synchronous client runs in
a worker thread so the servers keep serving on the test's event loop.
"""

from __future__ import annotations

import asyncio

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from backend.runner import start_server
from backend.server import create_app
from tests.backend.conftest import ADMIN, make_settings

EXAMPLES_PER_OPERATION = 40
# Deliberate fault injection: once set, the mock answers 500 on purpose.
NOT_FUZZED = {"PUT /admin/faults"}


def server_errors(description: dict, base_url: str, headers: dict[str, str] | None = None) -> list[str]:
    """Fuzz every operation; the failures (operation and reason), if any."""
    schema = schemathesis.openapi.from_dict(description)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in NOT_FUZZED:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def probe(case):
            response = case.call(base_url=base_url, timeout=10, headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            probe()
        except Exception as error:
            failures.append(f"{operation.label}: {str(error)[:600]}")
    return failures


async def fuzz(base_url: str, headers: dict[str, str] | None = None) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        description = (await client.get("/openapi.json")).raise_for_status().json()
    assert description["paths"], "the description lists the routes"
    return await asyncio.to_thread(server_errors, description, base_url, headers)


async def test_the_mock_backend_never_answers_500_to_anything_its_description_allows(tmp_path):
    running = await start_server(create_app(make_settings(tmp_path)))
    try:
        assert await fuzz(running.url, ADMIN) == []  # the admin routes too, past their token
    finally:
        await running.stop()


async def test_the_bot_http_api_never_answers_500(running_bot):
    url, _runtime = running_bot
    assert await fuzz(url) == []
