"""The media route: signed, expiring, unguessable image links."""

from __future__ import annotations

import base64
import hashlib
import io

import httpx
import pytest
from PIL import Image as PILImage
from starlette.applications import Starlette

from bot.config import Settings
from bot.media import MediaStore, media_secret
from core.messages import Image


def _png(colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> MediaStore:
    return MediaStore(tmp_path / "media", b"s" * 32, "https://troly.example.gov.vn/", 3600, clock=clock)


def _client(store: MediaStore) -> httpx.AsyncClient:
    app = Starlette(routes=store.routes())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://troly.example.gov.vn")


def _path(url: str) -> str:
    return url.removeprefix("https://troly.example.gov.vn")


async def test_a_fresh_link_shows_the_picture(store):
    png = _png()
    url = store.url_for(Image(png=png, alt="QR", key="qr/1"))
    assert url.startswith("https://troly.example.gov.vn/media/")
    async with _client(store) as client:
        response = await client.get(_path(url))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == png


async def test_a_link_keeps_working_after_a_restart(tmp_path, clock):
    png = _png("blue")
    first = MediaStore(tmp_path / "media", b"k" * 32, "https://troly.example.gov.vn", 3600, clock=clock)
    url = first.url_for(Image(png=png, alt="guide", key="guide/1"))
    restarted = MediaStore(tmp_path / "media", b"k" * 32, "https://troly.example.gov.vn", 3600, clock=clock)
    async with _client(restarted) as client:
        response = await client.get(_path(url))
    assert response.content == png


async def test_a_tampered_link_is_refused_clearly(store):
    url = store.url_for(Image(png=_png(), alt="QR", key="qr/1"))
    token = url.rsplit("/", 1)[1]
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[40] ^= 0xFF  # push the expiry far into the future
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    async with _client(store) as client:
        response = await client.get(f"/media/{forged}")
        garbage = await client.get("/media/not-a-token")
    assert response.status_code == 403
    assert "không hợp lệ" in response.text
    assert garbage.status_code == 404


async def test_a_link_signed_with_another_secret_is_refused(tmp_path, clock, store):
    other = MediaStore(tmp_path / "media", b"x" * 32, "https://troly.example.gov.vn", 3600, clock=clock)
    url = other.url_for(Image(png=_png(), alt="QR", key="qr/1"))
    async with _client(store) as client:
        response = await client.get(_path(url))
    assert response.status_code == 403


async def test_an_expired_link_says_it_expired(store, clock):
    url = store.url_for(Image(png=_png(), alt="QR", key="qr/1"))
    clock.now += 3601
    async with _client(store) as client:
        response = await client.get(_path(url))
    assert response.status_code == 410
    assert "hết hạn" in response.text and "expired" in response.text


async def test_a_valid_link_to_a_deleted_picture_is_not_found(store):
    url = store.url_for(Image(png=_png(), alt="QR", key="qr/1"))
    for file in store.directory.iterdir():
        file.unlink()
    async with _client(store) as client:
        response = await client.get(_path(url))
    assert response.status_code == 404


def test_links_to_the_same_picture_share_one_file_and_cannot_be_guessed(store):
    png = _png()
    first = store.url_for(Image(png=png, alt="a", key="a"))
    second = store.url_for(Image(png=png, alt="b", key="b"))
    assert len(list(store.directory.iterdir())) == 1
    assert first == second  # same picture, same second: same link
    token = first.rsplit("/", 1)[1]
    assert len(token) >= 70  # 256-bit digest + expiry + 128-bit tag


def test_the_secret_comes_from_the_environment_or_is_created_once(tmp_path, monkeypatch):
    monkeypatch.delenv("TROLY_MEDIA_SECRET", raising=False)
    path = tmp_path / "var" / "media-secret"
    created = media_secret(path)
    assert media_secret(path) == created
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("TROLY_MEDIA_SECRET", "from-the-environment-0123456789")
    assert media_secret(path) == b"from-the-environment-0123456789"


def test_the_store_is_configured_from_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("TROLY_MEDIA_SECRET", raising=False)
    settings = Settings.model_validate(
        {
            "web": {"public_base_url": "https://troly.example.gov.vn"},
            "media": {"directory": str(tmp_path / "m"), "secret_file": str(tmp_path / "s"), "ttl_seconds": 600},
        }
    )
    store = MediaStore.from_settings(settings)
    assert store.ttl_seconds == 600
    assert store.url_for(Image(png=_png(), alt="x", key="x")).startswith("https://troly.example.gov.vn/media/")


def test_pictures_are_deleted_once_every_link_to_them_has_expired(store, clock):
    old = Image(png=_png("green"), alt="QR", key="qr/old")
    kept = Image(png=_png("blue"), alt="QR", key="qr/kept")
    store.url_for(old)
    clock.now += 1800
    store.url_for(kept)
    clock.now += 1801  # the first link expired; the second still works
    assert store.prune() == 1
    assert [path.name for path in store.directory.iterdir()] == [f"{hashlib.sha256(kept.png).hexdigest()}.png"]
