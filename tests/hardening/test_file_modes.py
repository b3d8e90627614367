"""Issue 20, finding 6: what the bot keeps on disk (its database with OAuth
tokens and the pseudonym salt, the mock's database of citizens, pictures of
certificate QR codes) is readable by its owner only: directories the project
creates are 0700, its files 0600. The whole bot runs with every path under
a fresh `var/`, and a citizen gets a QR code."""

from __future__ import annotations

import os
import stat

import httpx

from backend.runner import start_server
from bot.app import Runtime, create_app
from bot.config import Settings
from tests.certificate_pages import sign_links_for_phones
from tests.flows.helpers import COMPLETED_CODE, LAN_ID


async def test_var_and_its_files_are_the_owners_only(tmp_path):
    var = tmp_path / "var"
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{var / 'troly.sqlite3'}"},
            "backend": {"mock_database": str(var / "mock-backend.sqlite3")},
            "media": {"directory": str(var / "media")},
        }
    )
    runtime = Runtime(settings, mock_port=0)
    server = await start_server(create_app(settings, runtime), "127.0.0.1", 0)
    runtime.bound_to(server.url)
    sign_links_for_phones(runtime.mock)  # a certificate QR (not drawn for a loopback link) is kept as a picture
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for body in ({"start": ""}, {"button": "onboarding:lang:vi"}, {"button": "onboarding:consent:yes"}):
                await client.post("/api/chat", json={"user_id": "modes", **body})
            await client.post("/api/chat", json={"user_id": "modes", "button": "menu:open:status"})
            await client.post("/api/chat", json={"user_id": "modes", "text": COMPLETED_CODE})
            replies = (await client.post("/api/chat", json={"user_id": "modes", "text": LAN_ID})).json()["replies"]
            image = next(reply["image_url"] for reply in replies if reply["image_url"])
            assert (await client.get(image)).status_code == 200
    finally:
        await server.stop()
    found = {path.relative_to(var).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in var.rglob("*")}
    assert {"troly.sqlite3", "mock-backend.sqlite3", "media"} <= found.keys()
    assert any(name.startswith("media/") for name in found), "the QR picture was kept"
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    loose = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert loose == {}, f"readable by others: {loose}"
    assert os.access(var / "troly.sqlite3", os.R_OK | os.W_OK)
