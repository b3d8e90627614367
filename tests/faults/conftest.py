"""Fixtures for fault tests: the mock backend over HTTP (faults switched on
through its admin API), the throwaway PostgreSQL server, and a bot runtime
that uses both like a production worker does (backend.url set)."""

from __future__ import annotations

import httpx
import pytest

from backend.runner import start_server
from backend.server import create_app
from backend.settings import MockSettings
from bot.app import Runtime
from bot.config import Settings
from tests.postgres import postgres_server_url, postgres_url  # noqa: F401

BACKEND_WEBHOOK_SECRET = b"test-backend-webhook-secret"
ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
async def mock_backend(tmp_path):
    """The mock government backend on a loopback port, with its own database."""
    settings = MockSettings(
        database=str(tmp_path / "mock.sqlite3"),
        signing_key=b"test-signing-key",
        webhook_secret=BACKEND_WEBHOOK_SECRET,
        admin_token=ADMIN_TOKEN,
    )
    server = await start_server(create_app(settings), "127.0.0.1", 0)
    yield server
    await server.stop()


async def set_faults(backend_url: str, **faults) -> None:
    """Faults for every backend call from now on (none given: healthy)."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        response = await http.put(f"{backend_url}/admin/faults", json=faults)
        response.raise_for_status()


def bot_settings(tmp_path, storage_url: str, backend_url: str) -> Settings:
    """The bot's settings as a worker runs them: the real backend client
    with the shipped timeout, its own storage."""
    return Settings.model_validate(
        {
            "storage": {"url": storage_url},
            "backend": {"url": backend_url},
            "media": {"directory": str(tmp_path / "media")},
        }
    )


@pytest.fixture
async def bot_on(tmp_path):
    """`await bot_on(storage_url, backend_url)`: a started runtime (stopped at the end)."""
    runtimes: list[Runtime] = []

    async def start(storage_url: str, backend_url: str) -> Runtime:
        runtime = Runtime(bot_settings(tmp_path, storage_url, backend_url))
        await runtime.start(start_channels=False)
        runtimes.append(runtime)
        return runtime

    yield start
    for runtime in runtimes:
        await runtime.stop()
