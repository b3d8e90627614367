"""The guide's phone-screen pictures: valid PNGs, the right size, real content."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageDraw

from domain.knowledge import load_knowledge
from flows.illustrations import IMAGE_SIZE, _font, step_image

STEP_COUNT = len(load_knowledge().guide_steps("vi"))


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("index", range(STEP_COUNT))
def test_every_step_picture_is_a_png_of_the_expected_size_with_content(index, lang):
    png = step_image(index, lang)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == IMAGE_SIZE
    assert len(image.getcolors(maxcolors=1 << 16) or []) > 20  # drawn text and shapes, not a blank canvas
    caption = image.crop((0, 730, IMAGE_SIZE[0], IMAGE_SIZE[1])).convert("L")
    assert caption.getextrema()[0] < 80  # dark caption text under the phone


def test_pictures_differ_between_steps_and_languages():
    pictures = {step_image(i, "vi") for i in range(STEP_COUNT)}
    assert len(pictures) == STEP_COUNT
    assert step_image(0, "vi") != step_image(0, "en")


def test_a_step_can_be_named_by_key_or_index_and_is_cached():
    steps = load_knowledge().guide_steps("vi")
    assert step_image(steps[2].key, "vi") is step_image(2, "vi")
    with pytest.raises(KeyError):
        step_image("no_such_step", "vi")


def test_the_poster_can_number_its_five_steps_one_to_five():
    kb = load_knowledge()
    last = kb.poster_steps("vi")[-1]
    assert step_image(last.key, "vi", kb, number=5) != step_image(last.key, "vi", kb)


def test_the_font_draws_vietnamese_diacritics_as_distinct_glyphs():
    def draw(text):
        image = Image.new("L", (80, 60), 0)
        ImageDraw.Draw(image).text((10, 5), text, font=_font(36), fill=255)
        return image

    assert ImageChops.difference(draw("ệ"), draw("e")).getbbox() is not None
    assert ImageChops.difference(draw("ư"), draw("u")).getbbox() is not None
