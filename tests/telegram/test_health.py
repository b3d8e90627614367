"""A channel that cannot connect says so loudly and recovers: the real app
against a Bot API whose `getMe` answers a malformed user (no `is_bot`, as
the npm telegram-test-api does), which python-telegram-bot rejects with a
`TypeError` nobody expects."""

from __future__ import annotations

import asyncio
import logging

import httpx

from bot.app import Runtime, create_app
from bot.config import Settings
from tests.fakes.telegram_api import BOT_USER, serve


def app_settings(tmp_path, nlu_model_dir) -> Settings:
    """The real app on SQLite and the in-process mock backend, Telegram by long polling."""
    return Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3"},
            "nlu": {"model_dir": str(nlu_model_dir)},
            "backend": {"mock_database": str(tmp_path / "mock-backend.sqlite3")},
            "media": {"directory": str(tmp_path / "media"), "secret_file": str(tmp_path / "media-secret")},
            "telegram": {"polling_timeout_seconds": 1},
        }
    )


async def test_a_malformed_get_me_is_logged_retried_reported_and_recovered_from(
    api, tmp_path, nlu_model_dir, monkeypatch, caplog
):
    api.bot_user = {key: value for key, value in BOT_USER.items() if key != "is_bot"}
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
    monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
    settings = app_settings(tmp_path, nlu_model_dir)
    runtime = Runtime(settings, mock_port=0)
    caplog.set_level(logging.INFO)
    async with serve(create_app(settings, runtime)) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        await api.wait_for(lambda: len(api.calls_to("getMe")) >= 2)  # tried again, not a dead task

        failures = [record for record in caplog.records if record.exc_info and "telegram" in record.getMessage()]
        assert failures and failures[0].exc_info[0] is TypeError  # logged with its traceback
        health = await client.get("/healthz")
        assert health.status_code == 503
        report = health.json()
        assert report["ok"] is False
        telegram = report["channels"]["telegram"]
        assert telegram["state"] == "retrying" and telegram["reason"].startswith("TypeError") and telegram["since"]
        assert report["channels"]["web"]["state"] == "connected"

        api.bot_user = dict(BOT_USER)  # the Bot API is fixed
        channel = runtime.channel("telegram")
        assert channel is not None
        await asyncio.wait_for(channel.ready.wait(), 15)
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["ok"] is True and health.json()["channels"]["telegram"]["state"] == "connected"

        await api.user_says("/start")  # and citizens are answered again
        await api.wait_for(lambda: api.bot_messages())


async def test_a_rejected_token_turns_telegram_off_and_healthz_says_why(api, tmp_path, nlu_model_dir, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:not-the-fakes-token")
    monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
    settings = app_settings(tmp_path, nlu_model_dir)
    runtime = Runtime(settings, mock_port=0)
    async with serve(create_app(settings, runtime)) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        channel = runtime.channel("telegram")
        assert channel is not None
        await api.wait_for(lambda: channel.health.state == "off")
        health = await client.get("/healthz")
        assert health.status_code == 503
        telegram = health.json()["channels"]["telegram"]
        assert telegram["state"] == "off" and "TELEGRAM_BOT_TOKEN" in telegram["reason"]
        assert "not-the-fakes-token" not in health.text
