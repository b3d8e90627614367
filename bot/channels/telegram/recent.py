"""`Recent` moved to `bot.channels.recent` (the receive side of every channel uses it)."""

from bot.channels.recent import Recent

__all__ = ["Recent"]
