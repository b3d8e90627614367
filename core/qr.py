"""QR codes as PNG bytes: the one drawing shared by the certificate link,
the LAN demo's join page and the outreach poster."""

from __future__ import annotations

import io
from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage


@lru_cache(maxsize=512)  # the same link (a certificate, the join page) is drawn again and again
def qr_png(data: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """A black-on-white PNG of the QR code of `data`, `box_size` pixels per
    module; the default `border` of 4 modules is the quiet zone the QR
    standard asks for, which phone cameras need."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(image_factory=PilImage, fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()
