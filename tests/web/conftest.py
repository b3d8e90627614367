from __future__ import annotations

import pytest

from bot.app import Runtime, create_app
from bot.config import Settings


def bot_settings(tmp_path) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"},
            "backend": {"mock_database": str(tmp_path / "mock.sqlite3")},
            "media": {"directory": str(tmp_path / "media")},
        }
    )


@pytest.fixture
async def running_bot(tmp_path):
    """The whole bot (web chat, mock backend over HTTP, SQLite, real NLU)
    served by uvicorn on a free loopback port."""
    from backend.runner import start_server

    settings = bot_settings(tmp_path)
    runtime = Runtime(settings, mock_port=0)
    server = await start_server(create_app(settings, runtime), "127.0.0.1", 0)
    runtime.bound_to(server.url)
    yield server.url, runtime
    await server.stop()
