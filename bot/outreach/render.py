"""Drawing the poster: plain elements (`Text`, `Box`, `Picture`, in
millimetres from the page's top-left corner) rendered to PDF (reportlab, for
printing) and to PNG (Pillow, for sharing by chat), so both outputs are the
same drawing and a test can check either. Text uses DejaVu Sans, embedded in
the PDF, so Vietnamese diacritics print correctly on any printer.
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

from core.wordwrap import wrap_words

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
PNG_DPI = 150
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
