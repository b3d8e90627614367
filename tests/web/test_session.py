"""The web chat's session cookie, history and idempotency keys, over real HTTP."""

from __future__ import annotations

import httpx

from tests.flows.helpers import COMPLETED_CODE, LAN_ID


async def _walk_to_the_qr(client: httpx.AsyncClient) -> list[dict]:
    for body in (
        {"start": ""},
        {"button": "onboarding:lang:vi"},
        {"button": "onboarding:consent:yes"},
        {"button": "onboarding:province:skip"},
        {"button": "menu:open:status", "echo": "🔎 Tra cứu hồ sơ"},  # the title, as the page echoes it
        {"text": COMPLETED_CODE},
    ):
        assert (await client.post("/api/chat", json=body)).status_code == 200
    return (await client.post("/api/chat", json={"text": LAN_ID})).json()["replies"]


async def test_the_server_issues_a_signed_httponly_session_cookie(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("troly_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        again = await client.get("/")
    assert "set-cookie" not in again.headers  # the same session on the next visit
    assert "troly_user_id" not in page.text and "localStorage.getItem" not in page.text


async def test_history_restores_the_conversation_with_the_qr_and_masks_typed_numbers(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        replies = await _walk_to_the_qr(client)
        history = (await client.get("/api/chat/history")).json()["replies"]
    qr = next(reply for reply in replies if reply["image_url"])
    assert qr["id"] in [entry.get("id") for entry in history]
    restored = next(entry for entry in history if entry.get("id") == qr["id"])
    assert restored["image_url"] == qr["image_url"] and "/verify/" in restored["link"]["url"]
    mine = [entry["text"] for entry in history if entry["from"] == "me"]
    assert "🔎 Tra cứu hồ sơ" in mine  # the pressed button, as the page echoed it
    assert LAN_ID not in str(history) and "••••••••••••" in mine  # the proof is never kept
    assert len(history) <= 50


async def test_an_id_in_the_body_or_url_opens_nobodys_messages(running_bot):
    url, runtime = running_bot
    web = runtime.channel("web")
    async with httpx.AsyncClient(base_url=url, timeout=30) as owner:
        await _walk_to_the_qr(owner)
        owner_id = web.sessions.user_of(_Cookies(owner.cookies["troly_session"]))
        await web.send(owner_id, [_notice()])
    async with httpx.AsyncClient(base_url=url, timeout=30) as stranger:
        updates = await stranger.get("/api/chat/updates", params={"user_id": owner_id})
        history = await stranger.get("/api/chat/history", params={"user_id": owner_id})
        posted = await stranger.post("/api/chat", json={"user_id": owner_id, "button": "status:notify:x"})
        after = await stranger.get("/api/chat/history")
    forged_cookie = {"troly_session": f"{owner_id}.AAAAAAAAAAAAAAAAAAAAAAAA"}
    async with httpx.AsyncClient(base_url=url, cookies=forged_cookie) as forger:
        forged = await forger.get("/api/chat/history")
    assert "set-cookie" in forged.headers  # a new session, not the owner's
    assert updates.json()["replies"] == [] and history.json()["replies"] == [] and forged.json()["replies"] == []
    assert posted.status_code == 200
    assert COMPLETED_CODE not in str(after.json()) and "Hồ sơ đã có kết quả" not in str(after.json())


async def test_a_retried_message_is_processed_once_and_answered_again(running_bot):
    url, runtime = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await client.post("/api/chat", json={"start": ""})
        first = await client.post("/api/chat", json={"message_id": "m-lang-1", "button": "onboarding:lang:vi"})
        retried = await client.post("/api/chat", json={"message_id": "m-lang-1", "button": "onboarding:lang:vi"})
        history = (await client.get("/api/chat/history")).json()["replies"]
    assert first.json()["replies"] and retried.json()["replies"] == first.json()["replies"]
    assert len([entry for entry in history if entry.get("key") == "m-lang-1" and entry["from"] == "bot"]) == len(
        first.json()["replies"]
    )


class _Cookies:
    """What WebSessions.user_of reads of a request."""

    def __init__(self, value: str) -> None:
        self.cookies = {"troly_session": value}


def _notice():
    from core.messages import Reply

    return Reply("Hồ sơ đã có kết quả.")


async def test_words_typed_before_consent_or_kept_under_a_withdrawn_one_are_not_kept(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await client.post("/api/chat", json={"text": "Làm phiếu mất bao lâu vậy?"})  # no consent yet
        before = (await client.get("/api/chat/history")).json()["replies"]
        for body in (
            {"button": "onboarding:lang:vi"},
            {"button": "onboarding:consent:yes"},
            {"button": "onboarding:province:skip"},
            {"text": "Phí bao nhiêu cho 2 bản?"},
        ):
            await client.post("/api/chat", json=body)
        consented = (await client.get("/api/chat/history")).json()["replies"]
        await client.post("/api/chat", json={"button": "onboarding:consent:no"})
        withdrawn = (await client.get("/api/chat/history")).json()["replies"]
    assert "Làm phiếu mất bao lâu" not in str(before) and before  # the answer is kept, not the question
    assert "Phí bao nhiêu cho • bản?" in [entry["text"] for entry in consented if entry["from"] == "me"]
    assert "Phí bao nhiêu" not in str(withdrawn) and withdrawn  # the reply to the withdrawal stays


async def test_the_page_style_and_script_are_served_by_the_app_with_nothing_external(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/")
        assets = [await client.get(path) for path in ("/web/chat.css", "/web/chat.js")]
    assert "script-src 'self'" in page.headers["content-security-policy"] and "<script>" not in page.text
    assert [asset.headers["content-type"].split(";")[0] for asset in assets] == ["text/css", "text/javascript"]
    for asset in assets:
        assert "https://" not in asset.text.replace("https?:", "")
        assert "http://" not in asset.text.replace("http://www.w3.org/2000/svg", "")
