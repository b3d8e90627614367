"""`troly run` with Zalo credentials in the environment: the whole bot app
(bot.app: real NLU, mock backend over HTTP, SQLite, media route) serves both
Zalo channels, talking to loopback fakes of Zalo."""

from __future__ import annotations

import pytest

from bot.app import Runtime, create_app
from bot.config import Settings
from tests.certificate_pages import HEADINGS, decode_qr, sign_links_for_phones, verification_heading
from tests.fakes.zalo_bot_api import ZaloBotApiFake
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.flows.helpers import COMPLETED_CODE, LAN_ID
from tests.zalo.conftest import APP_ID, APP_SECRET, OA_SECRET_KEY
from tests.zalo.test_conversations import BotUser, OaUser

TOKEN = "1459232241454765289:troly-run-token"


@pytest.fixture
async def fakes(monkeypatch):
    async with ZaloBotApiFake(TOKEN) as bot_api, ZaloOaApiFake(APP_ID, OA_SECRET_KEY, APP_SECRET) as oa_api:
        access, refresh = oa_api.issue_tokens()
        environment = {
            "ZALO_BOT_TOKEN": TOKEN,
            "ZALO_BOT_BASE_URL": bot_api.base_url,
            "ZALO_OA_APP_ID": APP_ID,
            "ZALO_OA_SECRET_KEY": OA_SECRET_KEY,
            "ZALO_OA_APP_SECRET": APP_SECRET,
            "ZALO_OA_ACCESS_TOKEN": access,
            "ZALO_OA_REFRESH_TOKEN": refresh,
            "ZALO_OA_API_BASE_URL": oa_api.base_url,
            "ZALO_OA_OAUTH_BASE_URL": oa_api.base_url,
            "TROLY_MEDIA_SECRET": "troly-run-test-media-secret",
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
        yield bot_api, oa_api


@pytest.fixture
async def running_bot(tmp_path, fakes):
    from backend.runner import start_server

    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"},
            "backend": {"mock_database": str(tmp_path / "mock.sqlite3")},
            "media": {"directory": str(tmp_path / "media"), "secret_file": str(tmp_path / "media-secret")},
            "zalo_bot": {"poll_timeout_seconds": 1},
        }
    )
    runtime = Runtime(settings, mock_port=0)
    server = await start_server(create_app(settings, runtime), "127.0.0.1", 0)
    runtime.bound_to(server.url)
    sign_links_for_phones(runtime.mock)
    yield server.url, runtime
    await server.stop()


async def test_troly_run_serves_both_zalo_channels_through_the_real_dialogue(fakes, running_bot):
    bot_api, oa_api = fakes
    base_url, runtime = running_bot
    assert {"zalo_bot", "zalo_oa"} <= {channel.name for channel in runtime.channels}

    # Zalo Bot: no buttons, the citizen types numbers and words.
    citizen = BotUser(bot_api, runtime.channel("zalo_bot"), runtime.storage, "zb-run-1")
    shown = await citizen.say("/start")
    shown = await citizen.choose("onboarding:lang:vi", "number", shown)
    shown = await citizen.choose("onboarding:consent:yes", "words", shown)
    shown = await citizen.choose("onboarding:province:skip", "number", shown)
    await citizen.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    shown = await citizen.say(LAN_ID)
    qr = next(message for message in shown if message.method == "sendPhoto")
    assert qr.photo.startswith(f"{base_url}/media/") and qr.photo_status == 200
    assert await verification_heading(decode_qr(qr.photo_bytes)) == HEADINGS["valid"]

    # Zalo OA: signed webhook events, real buttons, uploaded pictures.
    oa_api.webhook_url = f"{base_url}/zalo/oa/webhook"
    follower = OaUser(oa_api, runtime.channel("zalo_oa"), "oa-run-1")
    shown = await follower.follow()
    shown = await follower.press("onboarding:lang:en", shown)
    shown = await follower.press("onboarding:consent:yes", shown)
    shown = await follower.press("onboarding:province:skip", shown)
    shown = await follower.press("menu:open:fees", shown)
    shown = await follower.press("fees:group:standard", shown)
    shown = await follower.say("4")
    assert " đ" in "\n".join(message.text for message in shown)  # a fee quoted for today's date
    assert await oa_api.post_event(oa_api.event("follow", "intruder"), signature="mac=forged") == 401
