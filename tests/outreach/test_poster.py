"""The village poster: its QR code opens the bot with the right place and
staff code, on the printed PDF as on the PNG, and Vietnamese prints right."""

from __future__ import annotations

import io
import subprocess

import pytest
import zxingcpp
from PIL import Image

from bot.outreach.deeplink import OutreachError, deep_link, parse_payload, start_payload
from bot.outreach.poster import PosterContent, PosterStep, make_poster

STEPS = [
    PosterStep("Đăng nhập VNeID", "Log in to VNeID"),
    PosterStep("Mở mục Cấp phiếu lý lịch tư pháp", "Open the service"),
    PosterStep("Điền tờ khai, chọn loại phiếu và số bản", "Fill in the form"),
    PosterStep("Nộp phí trực tuyến", "Pay online"),
    PosterStep("Nhận phiếu điện tử trong VNeID", "Receive the certificate in VNeID"),
]


def decode_qr(png: bytes) -> list[str]:
    with Image.open(io.BytesIO(png)) as page:
        return [result.text for result in zxingcpp.read_barcodes(page.convert("L"))]


@pytest.fixture(scope="module")
def poster() -> tuple[str, bytes, bytes]:
    link = deep_link("troly_lltp_bot", start_payload("Thôn Đắk Rơ Wa, xã Đắk Rơ Wa", "CB07"))
    content = PosterContent(link, "Thôn Đắk Rơ Wa", "CB07", STEPS, "Công an tỉnh Quảng Ngãi — Phòng Hồ sơ nghiệp vụ")
    pdf, png = make_poster(content)
    return link, pdf, png


def test_payload_encodes_place_and_staff_within_telegram_limits():
    payload = start_payload("Thôn Đắk Rơ Wa, xã Đắk Rơ Wa", "CB07")
    assert payload == "thon-dak-ro-wa-xa-dak-ro-wa_CB07"
    assert parse_payload(payload) == ("thon-dak-ro-wa-xa-dak-ro-wa", "CB07")
    long = start_payload("Thôn " + "Làng Xa Xôi " * 10, "ABCDEFGH12345678")
    assert len(long) <= 64 and parse_payload(long)[1] == "ABCDEFGH12345678"
    assert parse_payload("some-other-start") is None
    for place, staff in (("Xã Tân Phú", "CB 07"), ("Xã Tân Phú", ""), ("!!!", "CB07")):
        with pytest.raises(OutreachError):
            start_payload(place, staff)


def test_poster_png_qr_opens_the_bot_with_place_and_staff(poster):
    link, _, png = poster
    assert link == "https://t.me/troly_lltp_bot?start=thon-dak-ro-wa-xa-dak-ro-wa_CB07"
    assert decode_qr(png) == [link]
    with Image.open(io.BytesIO(png)) as page:
        assert page.size == (1240, 1754)  # A4 at 150 dpi


@pytest.mark.needs_program("pdftoppm", "poppler-utils")
def test_printed_pdf_qr_opens_the_bot_with_place_and_staff(poster, tmp_path):
    link, pdf, _ = poster
    (tmp_path / "poster.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", "poster.pdf", "page"], cwd=tmp_path, check=True)
    assert decode_qr((tmp_path / "page.png").read_bytes()) == [link]


@pytest.mark.needs_program("pdftotext", "poppler-utils")
def test_printed_pdf_keeps_vietnamese_diacritics(poster, tmp_path):
    _, pdf, _ = poster
    (tmp_path / "poster.pdf").write_bytes(pdf)
    subprocess.run(["pdftotext", "poster.pdf", "poster.txt"], cwd=tmp_path, check=True)
    text = (tmp_path / "poster.txt").read_text(encoding="utf-8")
    for phrase in ("Quét mã QR", "Thôn Đắk Rơ Wa", "Điền tờ khai", "Phòng Hồ sơ nghiệp vụ", "Các bước chính"):
        assert phrase in text
