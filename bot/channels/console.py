"""The console channel: talk to the bot in a terminal (`troly chat`).

It has no buttons, so options are printed as numbered lines and the user
types a number or the option's words (the dispatcher maps them back).
Pictures are saved as PNG files and their path is printed.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from bot.channels.base import Channel
from bot.channels.text import numbered_options, split_text
from core.messages import Capabilities, Image, Inbound, InboundKind, Reply
from core.paths import private_dir

QUIT_WORDS = {"/quit", "/exit", "quit", "exit"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


class ConsoleChannel(Channel):
    name = "console"
    capabilities = Capabilities(buttons=False, max_text_length=4000, image_by="upload")

    def __init__(self, out: TextIO = sys.stdout, picture_dir: Path | None = None) -> None:
        self.out = out
        self.picture_dir = picture_dir

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        for reply in replies:
            self.out.write(self.render(reply) + "\n\n")
        self.out.flush()

    def render(self, reply: Reply) -> str:
        parts = []
        if reply.image is not None:
            parts.append(f"[🖼 {reply.image.alt}{self._save(reply.image)}]")
        parts.extend(split_text(numbered_options(reply), self.capabilities.max_text_length))
        if reply.link is not None:
            parts.append(f"🔗 {reply.link.title}: {reply.link.url}")
        return "\n".join(part for part in parts if part)

    def _save(self, image: Image) -> str:
        if self.picture_dir is None:
            return ""
        private_dir(self.picture_dir)
        path = self.picture_dir / (_UNSAFE.sub("_", image.key) + ".png")
        path.write_bytes(image.png)
        return f" → {path}"


async def run_console(
    handle: Callable,
    channel: ConsoleChannel,
    read_line: Callable[[], str] = input,
    user_id: str = "console",
) -> None:
    """Read lines until end of input or /quit; each line is one message."""
    await channel.send(user_id, await handle(Inbound("console", user_id, user_id, kind=InboundKind.START)))
    while True:
        try:
            line = await asyncio.to_thread(read_line)
        except EOFError:
            break
        if line.strip().lower() in QUIT_WORDS:
            break
        replies = await handle(Inbound("console", user_id, user_id, kind=InboundKind.TEXT, text=line))
        await channel.send(user_id, replies)
