"""The whole bot (web chat, mock backend, SQLite, real NLU) for the staff
tools' tests: broadcasts delivered by a running runtime, officer handoff."""

from __future__ import annotations

import pytest

from bot.app import Runtime, create_app
from bot.config import Settings


def staff_settings(tmp_path, **sections) -> Settings:
    """Settings on temp files; `sections` add or override config sections."""
    raw = {
        "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"},
        "backend": {"mock_database": str(tmp_path / "mock.sqlite3")},
        "media": {"directory": str(tmp_path / "media"), "secret_file": str(tmp_path / "media-secret")},
        "broadcast": {"poll_seconds": 0.05},
        **sections,
    }
    return Settings.model_validate(raw)


async def serve_runtime(settings: Settings) -> tuple[str, Runtime, object]:
    from backend.runner import start_server

    runtime = Runtime(settings, mock_port=0)
    server = await start_server(create_app(settings, runtime), "127.0.0.1", 0)
    runtime.bound_to(server.url)
    return server.url, runtime, server


@pytest.fixture
async def running_bot(tmp_path):
    url, runtime, server = await serve_runtime(staff_settings(tmp_path))
    yield url, runtime
    await server.stop()
