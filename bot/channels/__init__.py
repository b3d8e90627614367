"""The channel registry.

Each channel lives in one module (Telegram: one package) here and exposes
`from_settings(context: ChannelContext) -> Channel | None`, returning None
when the channel is not configured (no token). Adding a channel means one
file plus one line in `CHANNEL_MODULES`.

What the adapters share: `base` (the `Channel` contract and delivery
errors), `text` (splitting, plain text), `chat_tasks` (updates in order
within a chat), `credentials` (tokens out of the logs, webhook secrets) and
`http_api` (calling a platform's HTTP API).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from bot.channels.base import Channel
from bot.config import Settings
from bot.media import MediaStore
from storage.sql import SqlStorage

CHANNEL_MODULES: list[str] = [
    "bot.channels.telegram",
    "bot.channels.zalo_bot",
    "bot.channels.zalo_oa",
    "bot.channels.web",
]


@dataclass
class ChannelContext:
    """What an adapter's `from_settings` builds it from."""

    settings: Settings
    storage: SqlStorage
    media: MediaStore | None = None  # signed, expiring URLs for images


def configured_channels(context: ChannelContext) -> list[Channel]:
    channels = []
    for module_name in CHANNEL_MODULES:
        # Imported by name here, not at the top: each adapter imports
        # ChannelContext from this package (a cycle otherwise), and importing
        # one module of the package does not load every platform's library.
        channel = importlib.import_module(module_name).from_settings(context)
        if channel is not None:
            channels.append(channel)
    return channels
