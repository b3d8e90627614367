"""Issue 20, finding 7: the QR code the web chat sends is tied to a
certificate the verification page accepts, and the page tells the four
states apart as a person sees them (its heading's text, in Chromium): valid,
expired, revoked, and unknown for a forged link. Telegram and Zalo check
their own QR codes the same way (`tests/certificate_pages.py`)."""

from __future__ import annotations

import httpx
import pytest

from tests.backend.conftest import EXPIRED_LINK_REQUEST, REVOKED_REQUEST
from tests.certificate_pages import HEADINGS, decode_qr, forged, verification_heading
from tests.flows.helpers import COMPLETED_CODE, LAN_ID
from tests.tools import CHROMIUM, CHROMIUM_ARGS

# Full id numbers of the seeded holders (backend/data/demo.yml).
HOLDERS = {COMPLETED_CODE: LAN_ID, EXPIRED_LINK_REQUEST[0]: "024194005533", REVOKED_REQUEST[0]: "079085001234"}


async def certificate_replies(client: httpx.AsyncClient, user_id: str, code: str) -> list[dict]:
    """A web user who asks for `code`'s status with its holder's id number."""
    replies: list[dict] = []
    for body in (
        {"start": ""},
        {"button": "onboarding:lang:vi"},
        {"button": "onboarding:consent:yes"},
        {"button": "onboarding:province:skip"},
        {"button": "menu:open:status"},
        {"text": code},
        {"text": HOLDERS[code]},
    ):
        response = await client.post("/api/chat", json={"user_id": user_id, **body})
        assert response.status_code == 200, response.text
        replies = response.json()["replies"]
    return replies


async def mock_link(runtime, code: str) -> str:
    """The verification link the mock gives the holder of `code`."""
    async with httpx.AsyncClient(base_url=runtime.mock.url, timeout=10) as client:
        view = await client.post(f"/api/v1/requests/{code}/status", json={"id_number": HOLDERS[code]})
    assert view.status_code == 200, view.text
    return view.json()["certificate"]["verify_url"]


async def test_the_web_chats_qr_opens_a_page_that_shows_the_certificate_valid(running_bot):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        replies = await certificate_replies(client, "qr-web-1", COMPLETED_CODE)
        qr = next(reply for reply in replies if reply["image_url"])
        png = (await client.get(qr["image_url"])).content
    verify_url = decode_qr(png)
    assert verify_url == qr["link"]["url"]  # the QR and the link shown beside it agree
    assert await verification_heading(verify_url) == HEADINGS["valid"]
    assert await verification_heading(forged(verify_url)) == HEADINGS["unknown"]


@pytest.mark.parametrize("code", [EXPIRED_LINK_REQUEST[0], REVOKED_REQUEST[0]])
async def test_a_certificate_the_page_would_not_accept_is_sent_as_no_qr(running_bot, code):
    url, _ = running_bot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        replies = await certificate_replies(client, f"qr-web-{code[-4:]}", code)
    assert replies and not [reply for reply in replies if reply["image_url"]], replies
    assert not [reply for reply in replies if reply["link"] and "/verify/" in reply["link"]["url"]], replies


@pytest.mark.browser
async def test_chromium_shows_each_certificate_state_on_the_verification_page(running_bot):
    from playwright.async_api import async_playwright

    _, runtime = running_bot
    valid = await mock_link(runtime, COMPLETED_CODE)
    links = {
        "valid": valid,
        "expired": await mock_link(runtime, EXPIRED_LINK_REQUEST[0]),
        "revoked": await mock_link(runtime, REVOKED_REQUEST[0]),
        "unknown": forged(valid),
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            for state, link in links.items():
                await page.goto(link)
                heading = page.locator("h2")
                assert await heading.count() == 1, state
                assert await heading.is_visible(), state
                assert await heading.inner_text() == HEADINGS[state], state
                # Only a certificate the mock knows shows its number.
                shows_number = await page.get_by_text("Số phiếu", exact=True).count() == 1
                assert shows_number == (state != "unknown"), state
        finally:
            await browser.close()
