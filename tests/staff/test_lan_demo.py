"""LAN demo: the address phones use, its QR code in the terminal and on the
web chat page (no real network: addresses are given, QR codes decoded)."""

from __future__ import annotations

import io

import httpx
import zxingcpp
from PIL import Image

from backend.keys import ADMIN_TOKEN_ENV
from bot.config import Settings
from bot.lan import join_qr_png, lan_banner, lan_ip, lan_url
from bot.run_cli import lan_settings
from bot.wiring import mock_admin_token
from tests.staff.conftest import serve_runtime, staff_settings


def _decoded(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "no QR code found"
    return results[0].text


def test_lan_mode_listens_everywhere_and_gives_phones_the_lan_address():
    settings, host = lan_settings(Settings(), 8080, ip="192.168.137.1")
    assert host == "0.0.0.0"
    assert settings.web.host == "0.0.0.0" and settings.web.public_base_url == "http://192.168.137.1:8080"
    # Certificate QR codes and the payment page open on the villagers' phones too.
    assert settings.backend.mock_host == "0.0.0.0"
    assert settings.backend.mock_public_url == "http://192.168.137.1:8090"
    assert Settings().web.public_base_url == ""  # the loaded settings are left as they were


def test_lan_mode_leaves_a_real_backend_alone():
    configured = Settings.model_validate({"backend": {"url": "https://backend.example"}})
    settings, _ = lan_settings(configured, 8080, ip="10.0.0.5")
    assert settings.backend == configured.backend


def test_lan_mode_keeps_a_configured_public_address():
    configured = Settings.model_validate({"web": {"public_base_url": "http://demo.local:8080"}})
    settings, _ = lan_settings(configured, 8080, ip="10.0.0.5")
    assert settings.web.public_base_url == "http://demo.local:8080"


def test_terminal_banner_prints_the_url_and_a_block_qr_code():
    banner = lan_banner(lan_url("192.168.137.1", 8080))
    assert "http://192.168.137.1:8080/" in banner
    qr_lines = [line for line in banner.splitlines() if set(line) <= set(_HALVES)]
    assert _decoded_text_art(qr_lines) == "http://192.168.137.1:8080/"


_HALVES = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), "\xa0": (0, 0), " ": (0, 0)}


def _decoded_text_art(lines: list[str]) -> str:
    """Redraw half-block text art as a picture and decode it (either colour
    may be the "ink": terminals are dark or light)."""
    width = max(len(line) for line in lines)
    for ink in (0, 1):
        image = Image.new("L", (width * 10 + 80, len(lines) * 20 + 80), 255)
        for row, line in enumerate(lines):
            for column, char in enumerate(line):
                for half, lit in enumerate(_HALVES[char]):
                    if lit == ink:
                        x, y = 40 + column * 10, 40 + row * 20 + half * 10
                        image.paste(0, (x, y, x + 10, y + 10))
        results = zxingcpp.read_barcodes(image)
        if results:
            return results[0].text
    return ""


def test_qr_png_decodes_to_the_lan_url():
    assert _decoded(join_qr_png("http://192.168.137.1:8080/")) == "http://192.168.137.1:8080/"


class _Probe:
    """A UDP socket on a laptop whose hotspot address is 192.168.137.1, or offline."""

    def __init__(self, *args, offline=False):
        self.offline = offline

    def connect(self, address):
        if self.offline:
            raise OSError(101, "Network is unreachable")

    def getsockname(self):
        return ("192.168.137.1", 50000)

    def close(self):
        pass


def test_lan_ip_is_the_hotspot_address(monkeypatch):
    monkeypatch.setattr("bot.lan.socket.socket", _Probe)
    assert lan_ip() == "192.168.137.1"


def test_lan_ip_falls_back_to_loopback_with_no_network_at_all(monkeypatch):
    monkeypatch.setattr("bot.lan.socket.socket", lambda *args: _Probe(offline=True))
    assert lan_ip() == "127.0.0.1"


async def test_web_chat_page_shows_a_qr_of_its_own_address(running_bot):
    url, runtime = running_bot
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"{url}/")).text
        assert 'id="join-qr"' in page and 'src="/join-qr.png"' in page
        image = await client.get(f"{url}/join-qr.png")
    # Served on loopback only: no QR code of an address no phone can open, but how to get one.
    assert runtime.public_base_url().startswith("http://127.0.0.1:")
    assert image.status_code == 404 and "troly run --lan" in image.text


async def test_the_lan_demo_runtime_keeps_the_mock_admin_routes_closed(tmp_path, monkeypatch):
    """Issue 20, finding 1: `troly run --lan` puts the in-process mock on
    0.0.0.0; its /admin routes answer only to the admin token (the one in
    var/ when none is set, which `troly demo` reads)."""
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    settings, _host = lan_settings(staff_settings(tmp_path), 0, ip="127.0.0.1")
    assert settings.backend.mock_host == "0.0.0.0"
    _url, runtime, server = await serve_runtime(settings)
    try:
        token = runtime.mock.service.settings.admin_token
        assert token and token == mock_admin_token()
        assert runtime.mock.host == "0.0.0.0"  # every interface: reached here by loopback
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.mock.port}") as mock:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                assert (await mock.put("/admin/faults", json={"down": True}, headers=headers)).status_code == 401
            assert (await mock.get("/healthz")).status_code == 200  # still up: nothing was switched off
            opened = await mock.get("/admin/faults", headers={"Authorization": f"Bearer {token}"})
            assert opened.status_code == 200 and opened.json()["down"] is False
    finally:
        await server.stop()
