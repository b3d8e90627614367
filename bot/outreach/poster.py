"""The outreach poster's A4 layout: a QR code per channel, the main VNeID
steps as phone-screen thumbnails numbered 1-5, and the place's police unit
with a phone number, top to bottom with no blank band (the steps stretch to
meet the footer). Every text is at least 9 pt, readable on a village notice
board; `render` draws the same elements to PDF and PNG.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from bot.outreach.render import (
    GREY,
    NAVY,
    PAGE_H,
    PAGE_W,
    RED,
    Box,
    Element,
    Picture,
    Text,
    render_pdf,
    render_png,
    text_width,
    wrap,
)
from core.qr import qr_png

MARGIN = 12.0
HEADER_H = 31.0
CONTENT_W = PAGE_W - 2 * MARGIN
MIN_TEXT_PT = 9.0  # nothing smaller is printed
LINE_MM = 0.43  # line height in mm per point of font size
PHONE, SCREEN_ROW, HIGHLIGHT, HIGHLIGHT_FILL = "#343a40", "#eef1f4", "#f0b400", "#fff3cd"
SCREEN_HEADER = "#c8102e"
STEP_GAP, BADGE = 3.5, 7.0  # mm between step columns; the step number's disc
QR_BOX, QR_BORDER = 10, 4  # pixels per module; the quiet zone in modules (core.qr's default)
SCREEN_SIZES = (12.0, 11.0, 10.0, 9.0)  # the screens' text, the largest that fits


@dataclass(frozen=True)
class PosterChannel:
    name: str  # shown above the QR code
    link: str  # what the QR code opens
    how_vi: str  # one short line under it
    how_en: str


@dataclass(frozen=True)
class PosterStep:
    title: str  # Vietnamese
    note: str = ""  # English, under the picture
    header: str = "VNeID"  # the phone screen's title bar
    items: tuple[str, ...] = ()  # the screen's rows
    highlight: int = -1  # the row to tap


@dataclass(frozen=True)
class PosterContent:
    channels: Sequence[PosterChannel]
    place: str
    staff: str
    steps: Sequence[PosterStep]
    contact: Sequence[str]  # the police unit and other lines, small
    phone: str  # the number to call, large


def make_poster(content: PosterContent) -> tuple[bytes, bytes]:
    """(PDF bytes, PNG bytes) of the same poster."""
    elements = layout(content)
    return render_pdf(elements), render_png(elements)


def layout(content: PosterContent) -> list[Element]:
    """The poster as elements, top to bottom."""
    elements: list[Element] = [Box(0, 0, PAGE_W, HEADER_H, NAVY)]
    white = "#ffffff"
    elements.append(Text(PAGE_W / 2, 13.5, 22, "Trợ lý Lý lịch tư pháp", bold=True, color=white, center=True))
    elements.append(
        Text(PAGE_W / 2, 21.5, 12.5, "Hỏi đáp xin Phiếu lý lịch tư pháp trên VNeID", color=white, center=True)
    )
    english = "Ask about criminal-record certificates in VNeID"
    elements.append(Text(PAGE_W / 2, 27.5, 9.5, english, color="#dbe4f3", center=True))
    footer_top = PAGE_H - _footer_height(content)
    steps = content.steps[:5]
    # The QR codes grow into whatever the steps do not need.
    spare = footer_top - 5 - 8 - _channels(content, 38, []) - _steps_height(steps)
    y = _channels(content, 38, elements, grow=max(spare, 0))
    _steps(steps, top=y + 8, bottom=footer_top - 5, elements=elements)
    _footer(content, footer_top, elements)
    return elements


def _lines(elements: list[Element], x: float, y: float, width: float, text: str, size: float, **style) -> float:
    """Wrapped text from baseline `y`; returns the baseline after the last line."""
    for line in wrap(text, size, width, style.get("bold", False)):
        elements.append(Text(x, y, size, line, **style))
        y += size * LINE_MM
    return y


def _intro(elements: list[Element], x: float, y: float, width: float, content: PosterContent) -> float:
    y = _lines(elements, x, y, width, "Quét mã QR bằng camera điện thoại để hỏi trợ lý.", 15, bold=True)
    y = _lines(
        elements, x, y + 0.5, width, "Scan a QR code with your phone camera to ask the assistant.", 10, color=GREY
    )
    y = _lines(elements, x, y + 2, width, "Miễn phí · Không bao giờ hỏi mật khẩu, mã OTP", 10, bold=True, color=RED)
    y = _lines(elements, x, y, width, "Free · Never asks for passwords or OTP codes", 9, color=GREY)
    return _lines(elements, x, y + 2, width, f"{content.place} · Cán bộ / Staff: {content.staff}", 10, bold=True)


def _channels(content: PosterContent, top: float, elements: list[Element], grow: float = 0) -> float:
    """The QR codes side by side (with the introduction beside a single
    one, above several), `grow` mm larger than the least size; returns the
    y below them."""
    count = len(content.channels)
    if count == 1:
        # One QR code, large, with everything else beside it.
        channel = content.channels[0]
        size = min(70.0 + grow, 100.0)
        qr = qr_png(channel.link, box_size=QR_BOX)
        quiet = _quiet_zone(qr, size)  # white already: the modules start at the margin
        qr_top = max(top - quiet, HEADER_H + 1)  # its white border must not cover the header band
        elements.append(Picture(MARGIN - quiet, qr_top, size, size, qr, crisp=True))
        right = MARGIN + size - 2 * quiet + 8
        width = PAGE_W - MARGIN - right
        elements.append(Text(right, top + 5, 13, channel.name, bold=True, color=RED))
        y = _intro(elements, right, top + 13, width, content) + 2
        y = _lines(elements, right, y, width, channel.how_vi, 10, bold=True)
        y = _lines(elements, right, y, width, channel.how_en, MIN_TEXT_PT, color=GREY)
        for line in _url_lines(channel.link.split("://", 1)[-1], MIN_TEXT_PT, width):
            elements.append(Text(right, y + 1, MIN_TEXT_PT, line, color=GREY))
            y += MIN_TEXT_PT * LINE_MM
        return max(qr_top + size - quiet + 3, y)
    y = _intro(elements, MARGIN, top + 4, CONTENT_W, content) + 1
    gap = 8.0
    column = (CONTENT_W - gap * (count - 1)) / max(count, 1)
    size = min(column - 6, 56.0 + grow)
    bottoms = [
        _qr_column(channel, MARGIN + index * (column + gap), y, column, size, elements)
        for index, channel in enumerate(content.channels)
    ]
    return max(bottoms, default=y)


def _qr_column(channel: PosterChannel, x: float, top: float, width: float, size: float, elements: list) -> float:
    centre = x + width / 2
    elements.append(Text(centre, top + 5, 13, channel.name, bold=True, center=True))
    elements.append(Picture(centre - size / 2, top + 7, size, size, qr_png(channel.link, box_size=QR_BOX), crisp=True))
    y = top + 7 + size + 4
    for line in _url_lines(channel.link.split("://", 1)[-1], MIN_TEXT_PT, width):
        elements.append(Text(centre, y, MIN_TEXT_PT, line, color=GREY, center=True))
        y += MIN_TEXT_PT * LINE_MM
    elements.append(Text(centre, y + 1, 10, channel.how_vi, bold=True, center=True))
    elements.append(Text(centre, y + 5.5, MIN_TEXT_PT, channel.how_en, color=GREY, center=True))
    return y + 6


def _quiet_zone(qr: bytes, size: float) -> float:
    """The white border inside a QR picture `size` mm wide, in mm."""
    with Image.open(io.BytesIO(qr)) as picture:
        return QR_BORDER * QR_BOX / picture.width * size


def _url_lines(url: str, size: float, width: float) -> list[str]:
    """A link broken into lines of at most `width` mm anywhere (links have no spaces)."""
    lines = [""]
    for char in url:
        if lines[-1] and text_width(lines[-1] + char, size) > width:
            lines.append("")
        lines[-1] += char
    return lines


def _steps(steps: Sequence[PosterStep], top: float, bottom: float, elements: list[Element]) -> None:
    """The steps side by side, numbered 1-5: number and title, the phone
    screen with the row to tap highlighted, the English note. The screens
    take whatever height is left, so the steps meet the footer."""
    elements.append(Text(MARGIN, top, 15, "Các bước chính trên VNeID", bold=True))
    elements.append(
        Text(MARGIN + text_width("Các bước chính trên VNeID  ", 15, True), top, 10, "Main steps", color=GREY)
    )
    column, titles, notes, title_h, note_h = _step_columns(steps)
    cards_top = top + 4
    phone_h = bottom - cards_top - title_h - note_h
    size = _screen_size(steps, column, phone_h)
    for index, step in enumerate(steps):
        x = MARGIN + index * (column + STEP_GAP)
        elements.append(Box(x, cards_top, BADGE, BADGE, RED, radius=BADGE / 2))
        elements.append(
            Text(x + BADGE / 2, cards_top + 5.1, 12, str(index + 1), bold=True, color="#ffffff", center=True)
        )
        y = cards_top + 3.9
        for line in titles[index]:
            elements.append(Text(x + BADGE + 1.5, y, 10, line, bold=True))
            y += 10 * LINE_MM
        _phone(step, x, cards_top + title_h, column, phone_h, size, elements)
        y = cards_top + title_h + phone_h + 4
        for line in notes[index]:
            elements.append(Text(x, y, MIN_TEXT_PT, line, color=GREY))
            y += MIN_TEXT_PT * LINE_MM


def _step_columns(steps: Sequence[PosterStep]) -> tuple[float, list[list[str]], list[list[str]], float, float]:
    """Column width, title and note lines per step, and the height of the
    tallest title and note."""
    column = (CONTENT_W - STEP_GAP * (len(steps) - 1)) / max(len(steps), 1)
    titles = [wrap(step.title, 10, column - BADGE - 1.5, True)[:4] for step in steps]
    notes = [wrap(step.note, MIN_TEXT_PT, column)[:3] for step in steps]
    title_h = max([BADGE, *(len(lines) * 10 * LINE_MM for lines in titles)]) + 2.5
    note_h = max([0, *(len(lines) * MIN_TEXT_PT * LINE_MM for lines in notes)]) + 2
    return column, titles, notes, title_h, note_h


def _steps_height(steps: Sequence[PosterStep]) -> float:
    """The height the steps need to show every screen row at the least size."""
    column, _, _, title_h, note_h = _step_columns(steps)
    return 4 + title_h + note_h + max([0, *(_phone_need(step, column, MIN_TEXT_PT) for step in steps)])


def _screen_size(steps: Sequence[PosterStep], column: float, phone_h: float) -> float:
    """The largest screen text size at which every step's rows fit."""
    for size in SCREEN_SIZES:
        if all(_phone_need(step, column, size) <= phone_h for step in steps):
            return size
    return MIN_TEXT_PT


def _phone_need(step: PosterStep, width: float, size: float) -> float:
    header_h, _, heights = _screen_rows(step, width - 4, size)
    return 5 + header_h + sum(h + 1.5 for h in heights) + 1.5 + 5


def _phone(step: PosterStep, x: float, top: float, width: float, height: float, size: float, elements: list) -> None:
    """A simplified phone screen: title bar, then the rows that fit, the
    row to tap always among them."""
    elements.append(Box(x, top, width, height, PHONE, radius=4))
    sx, sw, sy, bottom = x + 2, width - 4, top + 5, top + height - 5
    elements.append(Box(sx, sy, sw, bottom - sy, "#ffffff", radius=1.5))
    header_h, header, heights = _screen_rows(step, sw, size)
    elements.append(Box(sx, sy, sw, header_h, SCREEN_HEADER))
    y = sy + 1.2 + size * 0.36
    for line in header:
        elements.append(Text(sx + sw / 2, y, size, line, bold=True, color="#ffffff", center=True))
        y += size * LINE_MM
    rows = _row_lines(step, sw, size)
    room = bottom - (sy + header_h) - 1.5
    first = 0
    if 0 <= step.highlight < len(rows):
        while first < step.highlight and sum(h + 1.5 for h in heights[first : step.highlight + 1]) > room:
            first += 1
    y = sy + header_h + 1.5
    for index in range(first, len(rows)):
        if y + heights[index] > bottom - 1:
            break
        chosen = index == step.highlight
        if chosen:
            elements.append(Box(sx + 1, y, sw - 2, heights[index], HIGHLIGHT, radius=1.2))
            elements.append(Box(sx + 1.5, y + 0.5, sw - 3, heights[index] - 1, HIGHLIGHT_FILL, radius=1))
        else:
            elements.append(Box(sx + 1, y, sw - 2, heights[index], SCREEN_ROW, radius=1.2))
        line_y = y + 1.3 + size * 0.36
        for line in rows[index]:
            elements.append(Text(sx + 2, line_y, size, line, bold=chosen, color="#212529"))
            line_y += size * LINE_MM
        y += heights[index] + 1.5


def _row_lines(step: PosterStep, screen_w: float, size: float) -> list[list[str]]:
    return [wrap(item, size, screen_w - 4, index == step.highlight)[:4] for index, item in enumerate(step.items)]


def _screen_rows(step: PosterStep, screen_w: float, size: float) -> tuple[float, list[str], list[float]]:
    """The title bar's height and lines, and each row's height."""
    header = wrap(step.header, size, screen_w - 3, True)[:2]
    heights = [len(lines) * size * LINE_MM + 2.6 for lines in _row_lines(step, screen_w, size)]
    return len(header) * size * LINE_MM + 3, header, heights


def _footer_height(content: PosterContent) -> float:
    lines = sum(len(wrap(text, 10, CONTENT_W)) for text in content.contact)
    return 8 + 13 * LINE_MM + 2 + lines * 10 * LINE_MM + 3


def _footer(content: PosterContent, top: float, elements: list[Element]) -> None:
    """The police unit to visit and the number to call."""
    elements.append(Box(0, top, PAGE_W, PAGE_H - top, NAVY))
    elements.append(Text(MARGIN, top + 8, 13, content.phone, bold=True, color="#ffffff"))
    y = top + 8 + 13 * LINE_MM + 2
    for text in content.contact:
        y = _lines(elements, MARGIN, y, CONTENT_W, text, 10, color="#ffffff")
