"""Phone-screen pictures for the request guide, drawn by the project with Pillow.

Each guide step in `knowledge/guide.yml` describes a simplified screen
(`screen: header, items, highlight, caption`); this module draws it: a phone
outline, a title bar, the rows with the one to tap highlighted and pointed
at, and a short caption underneath. They are our own drawings, never copied
screenshots, and they are also what the outreach poster prints.

The font is DejaVu Sans (it renders Vietnamese diacritics): from the system if
present, else the copy that ships inside matplotlib.
"""

from __future__ import annotations

import importlib.util
import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from core.wordwrap import wrap_words
from domain.knowledge import KnowledgeBase, load_knowledge

IMAGE_SIZE = (600, 900)
STEP_WORD = {"vi": "Bước", "en": "Step"}

_INK = (33, 37, 41)
_MUTED = (108, 117, 125)
_PAPER = (255, 255, 255)
_BACKGROUND = (236, 242, 248)
_PHONE = (52, 58, 64)
_HEADER = (200, 16, 46)  # a red title bar, like Vietnamese public-service apps
_ROW = (246, 247, 249)
_ROW_LINE = (206, 212, 218)
_HIGHLIGHT = (255, 193, 7)
_HIGHLIGHT_FILL = (255, 243, 205)


def _font_path(bold: bool) -> Path:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    system = Path("/usr/share/fonts/truetype/dejavu") / name
    if system.exists():
        return system
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        bundled = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / name
        if bundled.exists():
            return bundled
    raise FileNotFoundError(f"font {name} not found (install fonts-dejavu-core or matplotlib)")


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_path(bold)), size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of at most `width` pixels in `font`, broken between words."""
    return wrap_words(text, width, lambda line: draw.textlength(line, font=font))


def _draw_lines(draw, lines, font, x, y, fill, line_height, center_width=None) -> int:
    for line in lines:
        dx = (center_width - draw.textlength(line, font=font)) / 2 if center_width else 0
        draw.text((x + dx, y), line, font=font, fill=fill)
        y += line_height
    return y


def _pointer(draw: ImageDraw.ImageDraw, tip: tuple[int, int]) -> None:
    """A simple arrow pointing left at the highlighted row."""
    x, y = tip
    draw.polygon([(x, y), (x + 26, y - 18), (x + 26, y + 18)], fill=_HIGHLIGHT, outline=_INK)
    draw.rectangle([x + 26, y - 7, x + 56, y + 7], fill=_HIGHLIGHT, outline=_INK)


def render_screen(header: str, items: list[str], highlight: int, caption: str) -> bytes:
    """Draw one phone screen and return it as PNG bytes."""
    width, _ = IMAGE_SIZE
    image = Image.new("RGB", IMAGE_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(image)

    # Phone body and screen.
    phone = (110, 30, 490, 720)
    draw.rounded_rectangle(phone, radius=44, fill=_PHONE)
    screen = (128, 78, 472, 672)
    draw.rounded_rectangle(screen, radius=10, fill=_PAPER)
    draw.rounded_rectangle((260, 48, 340, 58), radius=5, fill=(90, 96, 102))  # speaker
    draw.ellipse((282, 682, 318, 714), outline=(120, 126, 132), width=3)  # home button

    # Title bar.
    sx0, sy0, sx1, _ = screen
    draw.rectangle((sx0, sy0, sx1, sy0 + 70), fill=_HEADER)
    header_font = _font(22, bold=True)
    header_lines = _wrap(draw, header, header_font, sx1 - sx0 - 24)[:2]
    line_height = 27
    top = sy0 + (70 - line_height * len(header_lines)) // 2
    _draw_lines(draw, header_lines, header_font, sx0, top, _PAPER, line_height, center_width=sx1 - sx0)

    # Rows; the one to tap is highlighted and pointed at.
    y = sy0 + 100
    for index, item in enumerate(items):
        chosen = index == highlight
        row_font = _font(24, bold=chosen)
        lines = _wrap(draw, item, row_font, sx1 - sx0 - 60)[:3]
        row_height = 31 * len(lines) + 34
        box = (sx0 + 14, y, sx1 - 14, y + row_height)
        draw.rounded_rectangle(
            box,
            radius=12,
            fill=_HIGHLIGHT_FILL if chosen else _ROW,
            outline=_HIGHLIGHT if chosen else _ROW_LINE,
            width=5 if chosen else 2,
        )
        _draw_lines(draw, lines, row_font, box[0] + 16, y + 16, _INK, 31)
        if chosen:
            _pointer(draw, (sx1 + 6, y + row_height // 2))
        y += row_height + 18

    # The caption under the phone, led by the step number.
    caption_font = _font(30, bold=True)
    caption_lines = _wrap(draw, caption, caption_font, width - 50)[:3]
    cy = 742 + (3 - len(caption_lines)) * 20
    _draw_lines(draw, caption_lines, caption_font, 0, cy, _INK, 42, center_width=width)

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=64)
def _step_png(kb: KnowledgeBase, key: str, lang: str, number: int | None) -> bytes:
    record = kb.guide_step_record(key)
    keys = [k.split(".", 1)[1] for k in kb.keys("guide")]
    screen = record.extra.get("screen") or {}

    def pick(text: dict | None, fallback: str) -> str:
        return (text or {}).get(lang) or (text or {}).get("vi") or fallback

    return render_screen(
        header=pick(screen.get("header"), "VNeID"),
        items=[pick(item, "") for item in screen.get("items", [])],
        highlight=int(screen.get("highlight", -1)),
        caption=f"{STEP_WORD[lang]} {number or keys.index(record.key) + 1}: "
        + pick(screen.get("caption"), record.text(lang, "title")),
    )


def step_image(
    step_key_or_index: str | int, lang: str = "vi", kb: KnowledgeBase | None = None, number: int | None = None
) -> bytes:
    """The PNG picture of a guide step (by key, image_key or 0-based index), cached.

    The caption reads "Bước N: …" with N the step's place in the guide, or
    `number` when given (the poster numbers its five steps 1-5). The cache is
    keyed by the knowledge base object, so a reloaded one draws fresh pictures.
    """
    kb = kb or load_knowledge()
    key = kb.guide_step_record(step_key_or_index).key
    return _step_png(kb, key, lang if lang in STEP_WORD else "vi", number)
