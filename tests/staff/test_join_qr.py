"""The web chat's join QR code never encodes an address a phone cannot open
(issue 19): listening on every interface, it shows this machine's LAN
address; on loopback only, there is no QR code."""

from __future__ import annotations

import io

import httpx
import zxingcpp
from PIL import Image

from bot.lan import url_for_phones
from tests.staff.conftest import serve_runtime, staff_settings


def test_a_loopback_base_becomes_the_lan_address_only_when_phones_can_reach_the_server():
    assert url_for_phones("http://127.0.0.1:8080", "0.0.0.0", ip="192.168.137.1") == "http://192.168.137.1:8080"
    assert url_for_phones("http://0.0.0.0:8080", "::", ip="10.0.0.5") == "http://10.0.0.5:8080"
    assert url_for_phones("http://localhost:8080", "192.168.1.20") == "http://192.168.1.20:8080"
    assert url_for_phones("http://127.0.0.1:8080", "127.0.0.1", ip="192.168.137.1") is None
    assert url_for_phones("http://127.0.0.1:8080", "0.0.0.0", ip="127.0.0.1") is None  # no network at all
    assert url_for_phones("https://troly.example.gov.vn", "127.0.0.1") == "https://troly.example.gov.vn"


async def test_listening_everywhere_the_page_qr_opens_the_lan_address(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.lan.lan_ip", lambda: "192.168.137.1")
    settings = staff_settings(tmp_path, web={"host": "0.0.0.0", "port": 8080})
    url, _runtime, server = await serve_runtime(settings)
    try:
        async with httpx.AsyncClient() as client:
            image = await client.get(f"{url}/join-qr.png")
    finally:
        await server.stop()
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    decoded = [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(image.content)))]
    assert decoded == ["http://192.168.137.1:8080/"]
