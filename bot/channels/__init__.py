"""The channel registry.

Each channel lives in one module here and exposes
`from_settings(context: ChannelContext) -> Channel | None`, returning None
when the channel is not configured (no token). Adding a channel means one
file plus one line in `CHANNEL_MODULES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.channels.base import Channel
    from bot.config import Settings
    from storage.base import Storage

CHANNEL_MODULES: list[str] = [
    "bot.channels.telegram",
    "bot.channels.zalo_bot",
    "bot.channels.zalo_oa",
    "bot.channels.web",
]


@dataclass
class ChannelContext:
    settings: Settings
    storage: Storage
    media: Any = None  # bot.media.MediaStore: signed, expiring URLs for images


def configured_channels(context: ChannelContext) -> list[Channel]:
    channels = []
    for module_name in CHANNEL_MODULES:
        channel = importlib.import_module(module_name).from_settings(context)
        if channel is not None:
            channels.append(channel)
    return channels
