"""The web chat's JSON API and the backend status hook, over real HTTP."""

from __future__ import annotations

import json
import time

import httpx
from starlette.applications import Starlette

from core.messages import Reply
from tests.flows.helpers import AWAITING_PAYMENT_CODE, COMPLETED_CODE, LAN_ID
from tests.web.conftest import status_changed_event, subscribe_web_user


async def test_page_is_served_offline_with_no_external_assets(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/")
    assert page.status_code == 200 and "Trợ lý LLTP" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text


async def test_chat_api_walks_to_a_certificate_qr(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def post(**body):
            response = await client.post("/api/chat", json={"user_id": "api1", **body})
            assert response.status_code == 200, response.text
            return response.json()["replies"]

        replies = await post(start="")
        assert {"title": "English", "payload": "onboarding:lang:en"} in replies[0]["buttons"]
        await post(button="onboarding:lang:en")
        await post(button="onboarding:consent:yes")
        await post(button="onboarding:province:skip")
        await post(button="menu:open:status")
        await post(text=COMPLETED_CODE)
        replies = await post(text=LAN_ID)
        qr = next(reply for reply in replies if reply["image_url"])
        image = await client.get(qr["image_url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert "/verify/" in qr["link"]["url"]


async def test_chat_api_refuses_bad_requests_with_4xx(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url) as client:
        cases = [
            b"not json",
            json.dumps([1, 2]).encode(),
            json.dumps({"user_id": "<script>", "text": "hi"}).encode(),
            json.dumps({"user_id": "a", "text": 5}).encode(),
            json.dumps({"user_id": "a", "text": "x", "button": "y"}).encode(),
            json.dumps({"user_id": "a", "text": "x" * 20000}).encode(),
            b"{" + b" " * 100_000 + b"}",
        ]
        for body in cases:
            response = await client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
            assert 400 <= response.status_code < 500, body[:40]
            assert "message_vi" in response.json()


async def test_a_long_message_gets_a_polite_reply(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await client.post("/api/chat", json={"user_id": "long", "start": ""})
        response = await client.post("/api/chat", json={"user_id": "long", "text": "á" * 5000})
    assert response.status_code == 200 and "1000" in response.json()["replies"][0]["text"]


async def test_backend_status_event_notifies_the_subscribed_web_user(running_bot):
    from backend.webhooks import signed_headers

    url, runtime = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        # Subscribing needs the proof of ownership first.
        await subscribe_web_user(client, "sub1", AWAITING_PAYMENT_CODE, LAN_ID)
        event = status_changed_event("e1", AWAITING_PAYMENT_CODE)
        forged = await client.post(
            "/hooks/backend", content=event, headers=signed_headers(b"wrong-secret-1234", event, "e1")
        )
        assert forged.status_code == 401
        hook = await client.post(
            "/hooks/backend",
            content=event,
            headers=signed_headers(runtime.webhook_secret, event, "e1", now=time.time()),
        )
        assert hook.status_code == 200 and hook.json()["notified"] == 1
        updates = (await client.get("/api/chat/updates", params={"user_id": "sub1"})).json()["replies"]
    assert AWAITING_PAYMENT_CODE in updates[0]["text"] and "Đã tiếp nhận" in updates[0]["text"]


async def test_a_request_moving_in_the_mock_backend_reaches_the_subscribed_user(running_bot):
    url, runtime = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for body in (
            {"start": ""},
            {"button": "onboarding:lang:en"},
            {"button": "onboarding:consent:yes"},
            {"button": "menu:open:status"},
            {"text": AWAITING_PAYMENT_CODE},
            {"text": LAN_ID},
            {"button": f"status:notify:{AWAITING_PAYMENT_CODE}"},
        ):
            await client.post("/api/chat", json={"user_id": "real1", **body})
        admin = {"Authorization": f"Bearer {runtime.mock.service.settings.admin_token}"}
        async with httpx.AsyncClient(base_url=runtime.mock.url, headers=admin) as mock:
            moved = await mock.post(f"/admin/requests/{AWAITING_PAYMENT_CODE}/advance", json={"steps": 1})
        assert moved.status_code == 200
        updates = (await client.get("/api/chat/updates", params={"user_id": "real1"})).json()["replies"]
    assert updates and AWAITING_PAYMENT_CODE in updates[0]["text"]
    assert updates[0]["buttons"] == [{"title": "🔎 Check status", "payload": "menu:open:status"}]


async def test_a_notice_for_a_closed_page_survives_a_restart(tmp_path):
    from bot.channels.web import WebChannel
    from storage.sql import SqlStorage

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    before = SqlStorage(url)
    await before.init()
    await WebChannel(before).send("w42", [Reply("Hồ sơ của bạn đã được tiếp nhận.")])
    await before.close()

    after = SqlStorage(url)
    await after.init()
    channel = WebChannel(after, session_secret=b"k" * 32)
    app = Starlette(routes=channel.routes())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://web", cookies=channel.session_cookie("w42")
    ) as client:
        updates = (await client.get("/api/chat/updates", params={"user_id": "w42"})).json()["replies"]
        again = (await client.get("/api/chat/updates", params={"user_id": "w42"})).json()["replies"]
    await after.close()
    assert [u["text"] for u in updates] == ["Hồ sơ của bạn đã được tiếp nhận."] and again == []


async def test_a_question_as_the_first_message_is_answered_at_once(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/api/chat", json={"user_id": "first1", "text": "Làm phiếu mất bao lâu vậy?"})
        replies = response.json()["replies"]
    assert response.status_code == 200
    assert "ngày làm việc" in "\n".join(reply["text"] for reply in replies)
    assert all(button["payload"] != "onboarding:lang:en" for reply in replies for button in reply["buttons"])


async def test_the_guide_opened_again_after_other_messages_comes_at_the_bottom(running_bot):
    """Next and Back turn the guide's page in place while it is the newest
    message; once other messages came, the guide comes as a new message
    (a key no message on the page has), not as an edit far up."""
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def guide_key(**body) -> str:
            response = await client.post("/api/chat", json={"user_id": "guide1", **body})
            assert response.status_code == 200, response.text
            [guide] = [reply for reply in response.json()["replies"] if reply["edit_key"]]
            return guide["edit_key"]

        for body in ({"start": ""}, {"button": "onboarding:lang:vi"}, {"button": "onboarding:consent:yes"}):
            await client.post("/api/chat", json={"user_id": "guide1", **body})
        first = await guide_key(button="menu:open:guide")
        assert await guide_key(button="guide:step:1") == first  # the newest message: turned in place
        assert await guide_key(button="guide:step:0") == first

        await client.post("/api/chat", json={"user_id": "guide1", "text": "lệ phí bao nhiêu?"})
        again = await guide_key(button="menu:open:guide")
        assert again != first and again.startswith("guide-")  # at the bottom, not an edit of the old one
        assert await guide_key(button="guide:step:1") == again  # and that one turns in place

        typed = await guide_key(text="cách xin phiếu trên VNeID")  # typed: the citizen's message is below it
        assert typed not in (first, again)


async def test_a_dispatcher_failure_gets_the_apology_not_a_bare_500(tmp_path):
    from bot.channels.web import WebChannel
    from storage.sql import SqlStorage

    async def broken(inbound):
        raise RuntimeError("database gone")

    storage = SqlStorage(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await storage.init()
    channel = WebChannel(storage)
    await channel.start(broken)
    app = Starlette(routes=channel.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
        response = await client.post("/api/chat", json={"user_id": "w43", "text": "xin chào"})
    await storage.close()
    assert response.status_code == 503
    body = response.json()
    assert body["message_vi"].startswith("Xin lỗi") and body["message_en"].startswith("Sorry")
