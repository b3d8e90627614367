from __future__ import annotations

import json

import httpx
import pytest

from bot.app import Runtime, create_app
from bot.config import Settings
from tests.certificate_pages import sign_links_for_phones


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
    sign_links_for_phones(runtime.mock)
    yield server.url, runtime
    await server.stop()


def web_session(runtime: Runtime, user_id: str) -> dict[str, str]:
    """The signed session cookie that speaks as `user_id` on the web chat
    (the server ignores a user id in the body)."""
    return runtime.channel("web").session_cookie(user_id)


async def subscribe_web_user(client: httpx.AsyncClient, user_id: str, code: str, proof: str) -> None:
    """A web user who agrees to the privacy notice, proves they own `code` and asks to be notified."""
    for body in (
        {"start": ""},
        {"button": "onboarding:lang:vi"},
        {"button": "onboarding:consent:yes"},
        {"button": "menu:open:status"},
        {"text": code},
        {"text": proof},
        {"button": f"status:notify:{code}"},
    ):
        await client.post("/api/chat", json={"user_id": user_id, **body})


def status_changed_event(event_id: str, code: str) -> bytes:
    """The backend's event body for `code` moving to RECEIVED."""
    event = {
        "event_id": event_id,
        "type": "request.status_changed",
        "code": code,
        "status": "RECEIVED",
        "label_vi": "Đã tiếp nhận",
        "label_en": "Received",
    }
    return json.dumps(event).encode()
