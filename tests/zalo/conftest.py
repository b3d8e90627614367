"""Shared pieces of the Zalo tests: the bot's own HTTP server (webhooks and
the media route) on a loopback port, a media store, a scripted stand-in
for the dispatcher that records what it was given, and the OA channel
against its fake (`make_oa_channel`, also used by tests/outbound)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image as PILImage
from starlette.applications import Starlette

from bot.channels.zalo_oa import ZaloOaChannel
from bot.channels.zalo_oa_oauth import OaTokens
from bot.config import ZaloOaSettings
from bot.media import MediaStore
from core.messages import Button, Image, Inbound, Reply
from storage.oa_tokens import OaTokenStore, TokenPair
from tests.fakes.zalo_bot_api import LoopbackServer
from tests.fakes.zalo_oa_api import ZaloOaApiFake

APP_ID = "360846524940903967"
OA_SECRET_KEY = "oa-secret-key-for-tests"
APP_SECRET = "app-secret-for-tests"


def png(colour: str = "red", size: int = 16) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


MENU = Reply(
    text="Chào bạn! Bạn cần gì?",
    buttons=(
        (Button("Hướng dẫn nộp hồ sơ", "guide:start"), Button("Lệ phí", "fees:start")),
        (Button("Tra cứu hồ sơ", "status:start"),),
    ),
)


@dataclass
class TurnThatNeverEnds:
    """A dispatcher whose turns last until `released`: a worker that stops
    mid-turn for good (`started` once one began)."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, inbound: Inbound) -> list[Reply]:
        self.started.set()
        await self.released.wait()
        return []


@dataclass
class ScriptedDispatcher:
    """Answers like a tiny bot; remembers every Inbound it handled."""

    seen: list[Inbound] = field(default_factory=list)

    async def __call__(self, inbound: Inbound) -> list[Reply]:
        self.seen.append(inbound)
        text = inbound.text.strip().lower()
        if inbound.kind == "start" or text == "menu":
            return [MENU]
        if inbound.kind == "text" and not text:
            return [Reply(text="please type")]
        if inbound.kind == "button":
            return [Reply(text=f"pressed {inbound.payload}")]
        if text == "qr":
            return [Reply(text="Mã QR của bạn", image=Image(png=png("black"), alt="QR", key="qr/1"))]
        if text == "long":
            return [Reply(text=("Một đoạn văn dài. " * 300).strip())]
        return [Reply(text=f"echo {inbound.text}")]


async def guide_pages(inbound: Inbound) -> list[Reply]:
    """Answers with pages that replace each other where a channel can edit (the guide's)."""
    return [Reply(text=f"Bước {inbound.text}", edit_key="guide")]


@dataclass
class BotServer:
    """The bot's ASGI app on a loopback port: add routes once channels exist."""

    app: Starlette
    server: LoopbackServer
    base_url: str
    media: MediaStore

    def mount(self, routes: list) -> None:
        self.app.router.routes.extend(routes)


@pytest.fixture
async def bot_server(tmp_path):
    app = Starlette()
    server = LoopbackServer(app)
    base_url = await server.start()
    media = MediaStore(tmp_path / "media", b"test-media-secret-0123456789", base_url, 3600)
    app.router.routes.extend(media.routes())
    yield BotServer(app, server, base_url, media)
    await server.stop()


@pytest.fixture
def dispatcher() -> ScriptedDispatcher:
    return ScriptedDispatcher()


def make_oa_channel(
    zalo: ZaloOaApiFake,
    storage,
    settings: ZaloOaSettings | None = None,
    seed: TokenPair | None = None,
    **options: Any,
) -> ZaloOaChannel:
    """The OA channel against `zalo`, with fresh tokens unless `seed` says
    otherwise; `options` go to `ZaloOaChannel` (rate, outbound)."""
    settings = settings or ZaloOaSettings()
    tokens = OaTokens(
        OaTokenStore(storage, account=f"zalo_oa:{APP_ID}"),
        oauth_base_url=zalo.base_url,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        refresh_margin=timedelta(seconds=settings.refresh_margin_seconds),
        seed=seed or TokenPair(*fresh_token_pair(zalo)),
    )
    return ZaloOaChannel(settings, storage, APP_ID, OA_SECRET_KEY, tokens, api_base_url=zalo.base_url, **options)


def fresh_token_pair(zalo: ZaloOaApiFake) -> tuple[str, datetime, str]:
    access, refresh = zalo.issue_tokens()
    return access, datetime.now(UTC) + timedelta(hours=25), refresh
