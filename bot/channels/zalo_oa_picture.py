"""Pictures for the Zalo OA: its upload takes at most `zalo_oa.max_image_bytes`
(1 MB), so a bigger one is downscaled and compressed first."""

from __future__ import annotations

import io

from PIL import Image as PILImage


def fit_image(png: bytes, max_bytes: int) -> tuple[bytes, str, str]:
    """The picture as (bytes, filename, content type) within `max_bytes`:
    unchanged if it fits, else JPEG, smaller and smaller until it does."""
    if len(png) <= max_bytes:
        return png, "image.png", "image/png"
    picture = PILImage.open(io.BytesIO(png)).convert("RGB")
    quality = 85
    while True:
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=quality, optimize=True)
        if buffer.tell() <= max_bytes or min(picture.size) <= 64:
            return buffer.getvalue(), "image.jpg", "image/jpeg"
        if quality > 60:
            quality -= 10
        else:
            picture = picture.resize((max(1, picture.width * 3 // 4), max(1, picture.height * 3 // 4)))
