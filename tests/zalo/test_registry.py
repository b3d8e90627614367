"""`troly run` finds the Zalo channels through the channel registry when
their credentials are in the environment, and only then."""

from __future__ import annotations

from bot.channels import ChannelContext, configured_channels
from bot.config import Settings

ZALO_ENV = ("ZALO_BOT_TOKEN", "ZALO_OA_APP_ID", "ZALO_OA_SECRET_KEY", "ZALO_OA_ACCESS_TOKEN", "ZALO_OA_REFRESH_TOKEN")


def test_zalo_channels_are_served_only_with_their_credentials(monkeypatch):
    settings = Settings.model_validate({"zalo_bot": {"webhook_url": "https://troly.example.gov.vn/zalo/bot/hook"}})
    context = ChannelContext(settings=settings, storage=None, media=None)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    for name in ZALO_ENV:
        monkeypatch.delenv(name, raising=False)
    assert not [channel for channel in configured_channels(context) if channel.name.startswith("zalo")]

    monkeypatch.setenv("ZALO_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("ZALO_OA_APP_ID", "360846524940903967")
    monkeypatch.setenv("ZALO_OA_SECRET_KEY", "oa-secret")
    monkeypatch.setenv("ZALO_OA_REFRESH_TOKEN", "refresh")
    channels = {channel.name: channel for channel in configured_channels(context)}
    assert {"zalo_bot", "zalo_oa"} <= set(channels)
    assert [route.path for route in channels["zalo_bot"].routes()] == ["/zalo/bot/hook"]
    assert [route.path for route in channels["zalo_oa"].routes()] == ["/zalo/oa/webhook"]
