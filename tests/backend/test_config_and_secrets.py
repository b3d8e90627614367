"""The mock takes its settings from config.yml and its secrets from the
environment, or keeps generated ones in var/ so links survive restarts."""

from __future__ import annotations

import os

from backend.keys import SIGNING_KEY_ENV
from bot.config import BackendSettings
from bot.wiring import mock_settings_from_config
from core.secrets import load_or_create_secret


def test_generated_secret_is_kept_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    path = tmp_path / "var" / "backend-signing.key"
    first = load_or_create_secret(SIGNING_KEY_ENV, path)
    assert load_or_create_secret(SIGNING_KEY_ENV, path) == first and len(first) >= 32
    assert os.stat(path).st_mode & 0o077 == 0


def test_secret_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(SIGNING_KEY_ENV, "from-env")
    assert load_or_create_secret(SIGNING_KEY_ENV, tmp_path / "k") == b"from-env"
    assert not (tmp_path / "k").exists()


def test_config_keys_reach_the_mock(tmp_path, monkeypatch):
    monkeypatch.setenv("TROLY_BACKEND_WEBHOOK_SECRET", "hook-secret")
    config = BackendSettings.model_validate(
        {
            "mock_database": "var/x.sqlite3",
            "clock_speed": 120,
            "token_ttl_days": 30,
            "webhook_url": "http://127.0.0.1:9/hooks/backend",
            "faults": {"latency_ms": 50, "down": True},
        }
    )
    mock = mock_settings_from_config(config, tmp_path)
    assert mock.database == str(tmp_path / "var" / "x.sqlite3")
    assert mock.clock_speed == 120 and mock.token_ttl_days == 30
    assert mock.webhook_secret == b"hook-secret" and mock.webhook_url.endswith("/hooks/backend")
    assert mock.faults.latency_ms == 50 and mock.faults.down is True
