"""Issue 20, finding 6: what reaches the bot's HTTP routes is limited before
it is parsed. Thousands-deep JSON gets 400 (it used to be a 500), a body over
the limit 413 whether or not it says its length, and a signed backend event
notifies once however often it is replayed; no page (the bot's, the mock's)
can be framed. Against the whole running bot."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select

from backend.webhooks import signed_headers
from bot.app import MAX_HOOK_BODY
from bot.channels.web import MAX_BODY
from storage.schema import seen_updates
from tests.flows.helpers import AWAITING_PAYMENT_CODE, LAN_ID
from tests.web.conftest import status_changed_event, subscribe_web_user

DEEP = b"[" * 10_000 + b"]" * 10_000  # valid JSON under the size limits, far over the nesting one


async def _chunks(size: int):
    """A body sent without a Content-Length, in 16 KiB pieces."""
    for _ in range(size // 16384 + 1):
        yield b" " * 16384


async def test_deeply_nested_json_gets_400_not_500_on_the_chat_api(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url) as client:
        deep = await client.post("/api/chat", content=b'{"user_id": "u1", "text": "x", "extra": ' + DEEP + b"}")
        assert deep.status_code == 400 and deep.json()["message_vi"]
        ok = await client.post("/api/chat", json={"user_id": "u1", "start": ""})
        assert ok.status_code == 200  # the app is still well


async def test_bodies_over_the_limit_are_refused_with_or_without_a_length(running_bot):
    url, runtime = running_bot
    async with httpx.AsyncClient(base_url=url) as client:
        for path, limit in (("/api/chat", MAX_BODY), ("/hooks/backend", MAX_HOOK_BODY)):
            assert (await client.post(path, content=b" " * (limit + 1))).status_code == 413, path
            # 10 MB announced with no length: cut off at the limit, not read whole.
            assert (await client.post(path, content=_chunks(10 * 1024 * 1024))).status_code == 413, path


async def test_a_signed_backend_event_notifies_once_however_often_it_is_replayed(running_bot):
    url, runtime = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await subscribe_web_user(client, "sub9", AWAITING_PAYMENT_CODE, LAN_ID)
        event = status_changed_event("e-replayed", AWAITING_PAYMENT_CODE)
        headers = signed_headers(runtime.webhook_secret, event, "e-replayed", now=time.time())
        answers = [(await client.post("/hooks/backend", content=event, headers=headers)).json() for _ in range(3)]
        assert [answer["notified"] for answer in answers] == [1, 0, 0]
        assert answers[1].get("duplicate") is True
        deep = signed_headers(runtime.webhook_secret, DEEP, "e-deep", now=time.time())
        assert (await client.post("/hooks/backend", content=DEEP, headers=deep)).status_code == 400
        updates = (await client.get("/api/chat/updates", params={"user_id": "sub9"})).json()["replies"]
    assert len([reply for reply in updates if "Đã tiếp nhận" in reply["text"]]) == 1


async def test_no_page_can_be_framed_by_another_site(running_bot):
    url, runtime = running_bot
    async with httpx.AsyncClient() as client:
        pages = [
            await client.get(f"{url}/"),
            await client.get(f"{runtime.mock.url}/verify/not-a-token"),
            await client.get(f"{runtime.mock.url}/simulator"),
        ]
    for page in pages:
        assert page.headers["x-frame-options"] == "DENY", page.url
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"], page.url


async def test_forget_me_on_the_web_leaves_no_message_id_that_names_the_user(running_bot):
    url, runtime = running_bot
    user_id = "wa1b2c3d4e5f60718293a4b5c6d7e8f90"
    page_ids = (f"{user_id[:20]}-{n}" for n in range(100))  # as the page makes them
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def say(**body):
            payload = {"user_id": user_id, "message_id": next(page_ids), **body}
            return (await client.post("/api/chat", json=payload)).json()["replies"]

        for body in ({"start": ""}, {"button": "onboarding:lang:vi"}, {"button": "onboarding:consent:yes"}):
            await say(**body)
        again = {"user_id": user_id, "message_id": "repeated-1", "text": "xin chào"}
        first = (await client.post("/api/chat", json=again)).json()["replies"]
        assert first
        # Answered once: the retry gets the first answer again (issue 19), not a second turn.
        assert (await client.post("/api/chat", json=again)).json()["replies"] == first
        await say(button="menu:forget")
        await say(button="menu:forget:yes")
    async with runtime.storage.transaction() as conn:
        kept = (await conn.execute(select(seen_updates.c.update_id))).scalars().all()
    assert kept, "the message ids are recorded (to answer each once)"
    assert not [update_id for update_id in kept if user_id[:8] in update_id or "repeated" in update_id]
