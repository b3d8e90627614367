"""What a certificate's QR code leads to, as the person scanning it sees it:
the QR decoded with a real decoder (zxing-cpp) and the mock's verification
page fetched and read (its one heading). The headings are written out here,
not imported from the backend, so a changed page is noticed."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import zxingcpp
from PIL import Image

from backend.runner import RunningServer, start_server
from backend.server import create_app
from backend.service import MockGovernment
from tests.tools import DEMO_HOST, demo_url

HEADINGS = {
    "valid": "Phiếu hợp lệ",
    "expired": "Đường dẫn kiểm tra đã hết hạn",
    "revoked": "Phiếu đã bị thu hồi",
    "unknown": "Không tìm thấy phiếu",
}


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in `png`."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"expected one QR code, decoded {len(found)}"
    return found[0].text


class _Headings(HTMLParser):
    """The text of each <h2> of a page (the verification state's heading)."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self._inside = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "h2":
            self._inside = True
            self.headings.append("")

    def handle_endtag(self, tag) -> None:
        if tag == "h2":
            self._inside = False

    def handle_data(self, data) -> None:
        if self._inside:
            self.headings[-1] += data


async def verification_heading(verify_url: str, served_at: str | None = None) -> str:
    """The heading of the page `verify_url` opens. `served_at`: where the
    mock really listens, when the link names another address (the fake
    backend's links name the default port). A link to DEMO_HOST is opened on
    loopback at the link's own port, as the demo laptop's Wi-Fi would."""
    if served_at:
        url = served_at.rstrip("/") + urlsplit(verify_url).path
    else:
        parts = urlsplit(verify_url)
        assert parts.hostname == DEMO_HOST, f"{verify_url}: not a link a phone could open"
        url = parts._replace(netloc=f"127.0.0.1:{parts.port}").geturl()
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.status_code == 200, (response.status_code, response.text[:200])
    parser = _Headings()
    parser.feed(response.text)
    assert len(parser.headings) == 1, parser.headings
    return parser.headings[0].strip()


def forged(verify_url: str) -> str:
    """`verify_url` with one character of its token's signature changed."""
    spot = len(verify_url) - 10  # inside the signature, clear of base64's padding bits
    return verify_url[:spot] + ("A" if verify_url[spot] != "A" else "B") + verify_url[spot + 1 :]


def sign_links_for_phones(mock: RunningServer | None) -> None:
    """Have the running `mock` (a Runtime's) sign its certificate links for
    DEMO_HOST at its real port, as `troly run --lan` has it sign them for the
    LAN address (its port is known only once it listens)."""
    assert mock is not None, "the mock backend is not running in-process"
    mock.service.settings.public_url = demo_url(mock.port)


@contextlib.asynccontextmanager
async def serving(service: MockGovernment) -> AsyncIterator[RunningServer]:
    """`service` (a `FakeBackendClient`'s) served over HTTP on loopback, so
    the links it signed can be opened; the service stays open after."""
    running = await start_server(create_app(service.settings, service))
    try:
        yield running
    finally:
        await running.stop()
