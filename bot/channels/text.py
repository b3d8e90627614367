"""Text that every channel can send: long text split at natural boundaries,
and a reply as plain text for channels without buttons (numbered options,
the link written out)."""

from __future__ import annotations

from core.messages import Reply


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into chunks of at most `limit` characters, preferring
    paragraph, then line, then word boundaries, so nothing is cut mid-word
    unless a single word is longer than the limit."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def numbered_options(reply: Reply) -> str:
    """Render a reply's buttons as numbered lines for channels without
    buttons; the dispatcher maps a later "2" (or the words) back to the
    second button's payload."""
    buttons = reply.all_buttons
    if not buttons:
        return reply.text
    lines = [f"{number}. {button.title}" for number, button in enumerate(buttons, start=1)]
    return "\n".join(filter(None, [reply.text, "\n".join(lines)]))


def plain_text(reply: Reply) -> str:
    """A reply as plain text: buttons as numbered options, link appended."""
    text = numbered_options(reply)
    if reply.link:
        text = "\n".join(filter(None, [text, f"{reply.link.title}: {reply.link.url}"]))
    return text
