"""The outreach poster: one A4 layout, drawn twice from the same elements,
to PDF (reportlab, for printing) and to PNG (Pillow, for sharing by chat).

The layout is plain data (`Text`, `Box`, `Picture` in millimetres from the
top-left corner), so both outputs are the same drawing and a test can check
the PNG and the PDF alike. Text uses DejaVu Sans, embedded in the PDF, so
Vietnamese diacritics print correctly on any printer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from core.qr import qr_png
from core.wordwrap import wrap_words

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
PNG_DPI = 150
MARGIN = 14.0
NAVY, RED, GREY, PALE = "#12315c", "#b3261e", "#44474e", "#eef2f8"
FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu")]
FONTS = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline, mm from the top
    size: float  # points
    text: str
    bold: bool = False
    color: str = NAVY
    center: bool = False  # x is the centre of the line


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: str
    radius: float = 0.0


@dataclass(frozen=True)
class Picture:
    x: float
    y: float
    w: float
    h: float
    png: bytes
    crisp: bool = False  # scale without smoothing (QR codes)


Element = Text | Box | Picture


@dataclass(frozen=True)
class PosterStep:
    title: str  # Vietnamese, shown large
    note: str = ""  # one short line under it (English, or a hint)
    picture: bytes | None = None  # PNG illustration of the step


@dataclass(frozen=True)
class PosterContent:
    link: str  # the deep link the QR opens
    place: str
    staff: str
    steps: Sequence[PosterStep]
    contact: str  # the province's contact line(s)


def font_path(bold: bool) -> Path:
    """DejaVu Sans from the system, else the copy matplotlib ships."""
    for directory in [*FONT_DIRS, Path(matplotlib.get_data_path()) / "fonts" / "ttf"]:
        path = directory / FONTS[bold]
        if path.exists():
            return path
    raise FileNotFoundError("DejaVu Sans not found: install fonts-dejavu-core")


def _font_name(bold: bool) -> str:
    name = "TrolyDejaVu-Bold" if bold else "TrolyDejaVu"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font_path(bold))))
    return name


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in mm of one line at `size` points."""
    return pdfmetrics.stringWidth(text, _font_name(bold), size) / mm


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """Lines of at most `width` mm at `size` points, broken between words."""
    return wrap_words(text, width, lambda line: text_width(line, size, bold))


def layout(content: PosterContent) -> list[Element]:
    """The poster as elements, top to bottom."""
    elements: list[Element] = [Box(0, 0, PAGE_W, 40, NAVY)]
    elements.append(Text(PAGE_W / 2, 17, 24, "Trợ lý Lý lịch tư pháp", bold=True, color="#ffffff", center=True))
    elements.append(
        Text(PAGE_W / 2, 27, 13, "Hỏi đáp xin Phiếu lý lịch tư pháp trên VNeID", color="#ffffff", center=True)
    )
    elements.append(
        Text(PAGE_W / 2, 34.5, 10, "Ask about criminal-record certificates in VNeID", color="#dbe4f3", center=True)
    )

    qr_size, qr_y = 80.0, 46.0
    elements.append(Picture(MARGIN, qr_y, qr_size, qr_size, qr_png(content.link, box_size=10), crisp=True))
    right = MARGIN + qr_size + 8
    width = PAGE_W - MARGIN - right
    y = qr_y + 14
    for line in wrap("Quét mã QR bằng camera điện thoại để trò chuyện với trợ lý trên Telegram.", 15, width, True):
        elements.append(Text(right, y, 15, line, bold=True))
        y += 7.5
    y += 1
    for line in wrap("Scan the QR code with your phone camera to chat on Telegram.", 10.5, width):
        elements.append(Text(right, y, 10.5, line, color=GREY))
        y += 5
    y += 5
    elements.append(Text(right, y, 9, "Miễn phí · Không hỏi mật khẩu, mã OTP", color=RED, bold=True))
    elements.append(Text(right, y + 5, 8.5, "Free · Never asks for passwords or OTP codes", color=GREY))
    elements.append(Text(right, y + 15, 10, content.place, bold=True))
    elements.append(Text(right, y + 20.5, 8, f"Cán bộ / Staff: {content.staff}", color=GREY))
    elements.append(Text(MARGIN + qr_size / 2, qr_y + qr_size + 4, 7.5, content.link, color=GREY, center=True))

    y = qr_y + qr_size + 16
    elements.append(Text(MARGIN, y, 15, "Các bước chính trên VNeID", bold=True))
    elements.append(Text(MARGIN + 84, y, 10, "The main steps in the VNeID app", color=GREY))
    elements.extend(_steps(content.steps[:5], top=y + 5))

    footer = PAGE_H - 26
    elements.append(Box(0, footer, PAGE_W, 26, NAVY))
    y = footer + 8
    for line in [row for text in content.contact.splitlines() for row in wrap(text, 9.5, PAGE_W - 2 * MARGIN)][:4]:
        elements.append(Text(MARGIN, y, 9.5, line, color="#ffffff"))
        y += 5
    return elements


def _steps(steps: Sequence[PosterStep], top: float) -> list[Element]:
    """The steps side by side: picture (a phone screen, 2:3, labelled with
    its place in the full guide), title, note."""
    gap = 3.0
    column = (PAGE_W - 2 * MARGIN - gap * (len(steps) - 1)) / max(len(steps), 1)
    picture_h = column * 1.5
    elements: list[Element] = []
    for index, step in enumerate(steps):
        x = MARGIN + index * (column + gap)
        if step.picture:
            elements.append(Picture(x, top, column, picture_h, step.picture))
        else:
            elements.append(Box(x, top, column, picture_h, PALE, radius=3))
        y = top + picture_h + 5.5
        for line in wrap(step.title, 9.5, column, True)[:3]:
            elements.append(Text(x, y, 9.5, line, bold=True))
            y += 4.4
        for line in wrap(step.note, 7.5, column)[:3]:
            elements.append(Text(x, y + 0.5, 7.5, line, color=GREY))
            y += 3.6
    return elements


# --- renderers ----------------------------------------------------------------
def render_pdf(elements: Sequence[Element]) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle("Trợ lý Lý lịch tư pháp")
    for element in elements:
        if isinstance(element, Box):
            pdf.setFillColor(element.fill)
            bottom = (PAGE_H - element.y - element.h) * mm
            pdf.roundRect(element.x * mm, bottom, element.w * mm, element.h * mm, element.radius * mm, stroke=0, fill=1)
        elif isinstance(element, Picture):
            bottom = (PAGE_H - element.y - element.h) * mm
            pdf.drawImage(ImageReader(io.BytesIO(element.png)), element.x * mm, bottom, element.w * mm, element.h * mm)
        else:
            pdf.setFillColor(element.color)
            pdf.setFont(_font_name(element.bold), element.size)
            draw = pdf.drawCentredString if element.center else pdf.drawString
            draw(element.x * mm, (PAGE_H - element.y) * mm, element.text)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def render_png(elements: Sequence[Element], dpi: int = PNG_DPI) -> bytes:
    def px(value_mm: float) -> int:
        return round(value_mm / 25.4 * dpi)

    page = Image.new("RGB", (px(PAGE_W), px(PAGE_H)), "white")
    draw = ImageDraw.Draw(page)
    fonts: dict[tuple[bool, float], ImageFont.FreeTypeFont] = {}
    for element in elements:
        if isinstance(element, Box):
            box = (px(element.x), px(element.y), px(element.x + element.w), px(element.y + element.h))
            draw.rounded_rectangle(box, radius=px(element.radius), fill=element.fill)
        elif isinstance(element, Picture):
            with Image.open(io.BytesIO(element.png)) as picture:
                resample = Image.Resampling.NEAREST if element.crisp else Image.Resampling.LANCZOS
                scaled = picture.convert("RGB").resize((px(element.w), px(element.h)), resample)
            page.paste(scaled, (px(element.x), px(element.y)))
        else:
            key = (element.bold, element.size)
            if key not in fonts:
                fonts[key] = ImageFont.truetype(str(font_path(element.bold)), round(element.size / 72 * dpi))
            anchor = "ms" if element.center else "ls"
            draw.text((px(element.x), px(element.y)), element.text, font=fonts[key], fill=element.color, anchor=anchor)
    out = io.BytesIO()
    page.save(out, "PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def make_poster(content: PosterContent) -> tuple[bytes, bytes]:
    """(PDF bytes, PNG bytes) of the same poster."""
    elements = layout(content)
    return render_pdf(elements), render_png(elements)
