"""Greedy word wrap by a measured width, for text drawn on pictures (the
guide's phone screens, in pixels) and on the outreach poster (in mm)."""

from __future__ import annotations

from collections.abc import Callable


def wrap_words(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Lines of `text` no wider than `width` by `measure`, broken between
    words; a word wider than `width` gets a line of its own. Each line break
    in `text` starts a new line, and an empty paragraph gives an empty line."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and measure(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines
