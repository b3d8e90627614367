"""Driving the web chat in Debian's Chromium (Playwright), for the browser tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from typing import Any

from tests.tools import CHROMIUM, CHROMIUM_ARGS

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


class Chat:
    """One citizen's page: press buttons, type, wait for answers."""

    def __init__(self, page: Any) -> None:
        self.page = page

    async def bot_count(self) -> int:
        return await self.page.locator(".msg.bot").count()

    async def press(self, payload: str) -> None:
        before = await self.bot_count()
        await self.page.locator(f'.keyboard:not(.used) button[data-payload="{payload}"]').last.click()
        await self.wait_for_bot_after(before)

    async def say(self, text: str) -> None:
        before = await self.bot_count()
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")
        await self.wait_for_bot_after(before)

    async def open_menu(self) -> None:
        before = await self.bot_count()
        await self.page.click("#menu")
        await self.wait_for_bot_after(before)

    async def wait_for_bot_after(self, count: int) -> None:
        await self.page.wait_for_function(
            f"document.querySelectorAll('.msg.bot').length > {count} && document.getElementById('typing').hidden"
        )

    async def onboard(self) -> None:
        await self.page.wait_for_selector('button[data-payload="onboarding:lang:vi"]')
        await self.press("onboarding:lang:vi")
        await self.press("onboarding:consent:yes")
        await self.press("onboarding:province:skip")

    async def last_qr_decoded(self, base_url: str) -> str:
        """The newest QR picture on the page, as the phone would read it (zxing-cpp)."""
        import zxingcpp
        from PIL import Image

        qr = self.page.locator(".msg.bot img[alt*=QR]").last
        await qr.wait_for()
        await self.page.wait_for_function("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
        png = await (await self.page.request.get(base_url + await qr.get_attribute("src"))).body()
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        assert decoded, "the QR code did not decode"
        return decoded[0].text


async def serious_axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


async def eventually(check: Any, timeout: float = 10) -> None:
    """Poll an async predicate until it holds, or fail at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
