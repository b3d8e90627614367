"""The running bot delivers broadcasts and honours citizens' /stop and /start."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from storage.broadcasts.model import Segment
from storage.broadcasts.store import BroadcastStore
from storage.schema import utcnow


async def _say(client: httpx.AsyncClient, url: str, user: str, **message) -> list[dict]:
    response = await client.post(f"{url}/api/chat", json={"user_id": user, **message})
    assert response.status_code == 200, response.text
    return response.json()["replies"]


async def _notifications(client: httpx.AsyncClient, url: str, user: str, want: str, timeout: float = 5) -> list[str]:
    """Poll the web chat's notifications until one contains `want`."""
    seen: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        response = await client.get(f"{url}/api/chat/updates", params={"user_id": user})
        seen += [reply["text"] for reply in response.json()["replies"]]
        if any(want in text for text in seen):
            return seen
        await asyncio.sleep(0.05)
    return seen


async def test_running_bot_delivers_a_scheduled_broadcast_when_its_time_comes(running_bot):
    url, runtime = running_bot
    async with httpx.AsyncClient() as client:
        await _say(client, url, "citizen-a", start="")
        store = BroadcastStore(runtime.storage)
        broadcast = await store.create(
            created_by="cli:admin",
            text="Thông báo: nghỉ lễ 2/9.",
            segment=Segment(channel=("web",)),
            at=utcnow() + timedelta(seconds=0.5),
        )
        assert broadcast.status == "scheduled"
        seen = await _notifications(client, url, "citizen-a", "nghỉ lễ 2/9")
    assert any("nghỉ lễ 2/9" in text for text in seen)
    report = await store.report(broadcast.id)
    assert report is not None


async def test_citizen_who_typed_stop_gets_no_broadcast_and_start_brings_them_back(running_bot):
    url, runtime = running_bot
    store = BroadcastStore(runtime.storage)
    async with httpx.AsyncClient() as client:
        await _say(client, url, "citizen-b", start="")
        replies = await _say(client, url, "citizen-b", text="/stop")
        assert any("không nhận thông báo" in reply["text"] or "no longer" in reply["text"] for reply in replies)
        await store.create(created_by="cli:admin", text="Tin số một", segment=Segment(channel=("web",)))
        assert "Tin số một" not in " ".join(await _notifications(client, url, "citizen-b", "Tin số một", timeout=1))

        await _say(client, url, "citizen-b", start="")
        await store.create(created_by="cli:admin", text="Tin số hai", segment=Segment(channel=("web",)))
        assert "Tin số hai" in " ".join(await _notifications(client, url, "citizen-b", "Tin số hai"))


async def test_telegram_menu_lists_the_stop_command():
    from bot.config import load_settings

    commands = [item.command for item in load_settings().telegram.commands]
    assert "stop" in commands
