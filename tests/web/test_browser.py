"""End to end in real Chromium: guide -> fee -> status of the seeded
completed request -> QR image, decoded with zxing-cpp; its URL opens the
mock's verification page, which shows the certificate as valid."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.certificate_pages import HEADINGS
from tests.flows.helpers import COMPLETED_CODE, LAN_ID
from tests.tools import CHROMIUM, CHROMIUM_ARGS

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-webchat.png"

pytestmark = [pytest.mark.browser]  # skipped without chromium, failed on CI (tests/conftest.py)


async def test_web_chat_from_guide_to_a_valid_certificate_in_chromium(running_bot, tmp_path):
    import zxingcpp
    from PIL import Image
    from playwright.async_api import async_playwright

    url, _ = running_bot
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, bypass_csp=True
            )  # lets the test evaluate its own waits

            async def click(payload: str) -> None:
                await page.locator(f'.keyboard:not(.used) button[data-payload="{payload}"]').last.click()

            async def menu() -> None:
                # The persistent Menu button by the text box (issue 19), then the menu's own keyboard.
                await page.click("#menu")
                await page.locator('.keyboard:not(.used) button[data-payload="menu:open:fees"]').last.wait_for()

            async def say(text: str) -> None:
                before = await page.locator(".msg.bot").count()
                await page.fill("#text", text)
                await page.press("#text", "Enter")
                await page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {before}")

            await page.goto(url)
            await click("onboarding:lang:vi")
            await page.wait_for_selector("text=91/2025/QH15")
            await click("onboarding:consent:yes")
            await click("onboarding:province:skip")

            # Guide: a picture per step; Next replaces the page in place.
            await click("menu:open:guide")
            await page.wait_for_selector("text=Bước 1/")
            await click("guide:step:1")
            await page.wait_for_selector("text=Bước 2/")
            assert await page.locator("[data-edit-key^=guide-]").count() == 1
            assert await page.locator("[data-edit-key^=guide-] img").evaluate("img => img.naturalWidth") > 100
            await page.locator("[data-edit-key^=guide-] img").evaluate("img => img.decode()")
            # The README's picture: refreshed with TROLY_UPDATE_SCREENSHOT=1.
            shot = SCREENSHOT if os.environ.get("TROLY_UPDATE_SCREENSHOT") else tmp_path / "webchat.png"
            await page.screenshot(path=str(shot))

            # Fee calculator.
            await menu()
            await click("menu:open:fees")
            await click("fees:group:standard")
            await click("fees:copies:2")
            await page.wait_for_selector("text=200.000 đ")
            await page.wait_for_selector("text=Theo quy định từ ngày")

            # Status of the seeded completed request, then its QR code.
            await menu()
            await click("menu:open:status")
            await say(COMPLETED_CODE)
            await say(LAN_ID)
            qr = page.locator(".msg.bot img[alt*=QR]").last
            await qr.wait_for()
            await page.wait_for_function("[...document.images].every(img => img.complete)")
            src = await qr.get_attribute("src")
            png = await (await page.request.get(url + src)).body()
            decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
            assert decoded, "the QR code did not decode"
            verify_url = decoded[0].text
            assert "/verify/" in verify_url

            await page.goto(verify_url)  # the page's heading as shown, not a CSS class (every page has `.valid`)
            assert await page.locator("h2").inner_text() == HEADINGS["valid"]
        finally:
            await browser.close()
