"""The village poster: a QR code per channel, each opening the bot (never a
loopback address), the five main steps numbered 1-5 and readable, the place's
police unit and a phone number, the page used to its foot, on the printed PDF
as on the PNG."""

from __future__ import annotations

import io
import subprocess
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from bot.outreach.deeplink import OutreachError, deep_link, parse_payload, start_payload
from bot.outreach.poster import MIN_TEXT_PT, PosterChannel, PosterContent, PosterStep, layout, make_poster
from bot.outreach.render import PNG_DPI, Text
from core.netaddr import phone_unreachable

STEPS = [
    PosterStep("Đăng nhập VNeID", "Log in to VNeID", "VNeID", ("Số định danh cá nhân", "Mật khẩu", "Đăng nhập"), 2),
    PosterStep("Mở mục Cấp phiếu lý lịch tư pháp", "Open the service", "Thủ tục hành chính", ("Cấp phiếu",), 0),
    PosterStep("Điền tờ khai, chọn loại phiếu và số bản", "Fill in the form", "Tờ khai", ("Họ tên", "Nơi cư trú"), 1),
    PosterStep("Nộp phí trực tuyến", "Pay online", "Thanh toán", ("Thẻ nội địa", "Quét mã VietQR"), 1),
    PosterStep("Nhận phiếu điện tử trong VNeID", "Receive the certificate", "Tra cứu hồ sơ", ("Mã hồ sơ",), 0),
]
PAYLOAD = start_payload("Thôn Đắk Rơ Wa, xã Đắk Rơ Wa", "CB07")
CHANNELS = [
    PosterChannel("Zalo", "https://zalo.me/1234567890123456789", "Mở Zalo, quét mã QR", "Open Zalo, scan the QR"),
    PosterChannel("Telegram", deep_link("troly_lltp_bot", PAYLOAD), "Quét bằng camera", "Scan with your camera"),
    PosterChannel("Web · Wi-Fi", f"http://192.168.137.1:8080/?start={PAYLOAD}", "Bắt Wi-Fi", "Join the Wi-Fi"),
]
CONTACT = ["Nơi tiếp nhận hồ sơ: Phòng Hồ sơ nghiệp vụ, Công an tỉnh Quảng Ngãi."]
PHONE = "Tổng đài VNeID / VNeID hotline: 1900 0368"


def decode_qr(png: bytes) -> list[str]:
    with Image.open(io.BytesIO(png)) as page:
        return [result.text for result in zxingcpp.read_barcodes(page.convert("L"))]


def poster_content(channels=CHANNELS) -> PosterContent:
    return PosterContent(channels, "Thôn Đắk Rơ Wa", "CB07", STEPS, CONTACT, PHONE)


@pytest.fixture(scope="module")
def poster() -> tuple[bytes, bytes]:
    return make_poster(poster_content())


def test_payload_encodes_place_and_staff_within_telegram_limits():
    assert PAYLOAD == "thon-dak-ro-wa-xa-dak-ro-wa_CB07"
    assert parse_payload(PAYLOAD) == ("thon-dak-ro-wa-xa-dak-ro-wa", "CB07")
    long = start_payload("Thôn " + "Làng Xa Xôi " * 10, "ABCDEFGH12345678")
    assert len(long) <= 64 and parse_payload(long)[1] == "ABCDEFGH12345678"
    assert parse_payload("some-other-start") is None
    for place, staff in (("Xã Tân Phú", "CB 07"), ("Xã Tân Phú", ""), ("!!!", "CB07")):
        with pytest.raises(OutreachError):
            start_payload(place, staff)


def test_every_channel_qr_on_the_png_opens_the_bot_never_a_loopback_address(poster):
    _, png = poster
    decoded = decode_qr(png)
    assert sorted(decoded) == sorted(channel.link for channel in CHANNELS)
    assert not any(phone_unreachable(urlsplit(link).hostname or "") for link in decoded)
    with Image.open(io.BytesIO(png)) as page:
        assert page.size == (1240, 1754)  # A4 at 150 dpi


@pytest.mark.parametrize("count", [1, 2, 3])
def test_steps_are_numbered_one_to_five_and_no_text_is_under_nine_points(count):
    elements = layout(poster_content(CHANNELS[:count]))
    texts = [element for element in elements if isinstance(element, Text)]
    assert min(text.size for text in texts) >= MIN_TEXT_PT
    numbers = [text.text for text in texts if text.text.isdigit() and text.size == 12]
    assert numbers == ["1", "2", "3", "4", "5"]
    # The row to tap is on every step's screen.
    shown = " ".join(text.text for text in texts)
    assert all(word in shown for word in ("Đăng nhập", "VietQR", "Mã hồ sơ"))


@pytest.mark.parametrize("count", [1, 3])
def test_the_page_has_no_blank_band(count):
    """Filled to the foot: no run of blank page rows taller than 12 mm."""
    png = make_poster(poster_content(CHANNELS[:count]))[1]
    with Image.open(io.BytesIO(png)) as page:
        grey = page.convert("L")
        width, height = grey.size
        blank_rows = [all(grey.getpixel((x, y)) > 245 for x in range(0, width, 4)) for y in range(height)]
    longest = run = 0
    for blank in blank_rows:
        run = run + 1 if blank else 0
        longest = max(longest, run)
    assert longest / PNG_DPI * 25.4 < 12


@pytest.mark.needs_program("pdftoppm", "poppler-utils")
def test_every_qr_on_the_printed_pdf_opens_the_bot(poster, tmp_path):
    pdf, _ = poster
    (tmp_path / "poster.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", "poster.pdf", "page"], cwd=tmp_path, check=True)
    assert sorted(decode_qr((tmp_path / "page.png").read_bytes())) == sorted(channel.link for channel in CHANNELS)


@pytest.mark.needs_program("pdftotext", "poppler-utils")
def test_printed_pdf_has_the_police_unit_and_phone_with_vietnamese_diacritics(poster, tmp_path):
    pdf, _ = poster
    (tmp_path / "poster.pdf").write_bytes(pdf)
    subprocess.run(["pdftotext", "poster.pdf", "poster.txt"], cwd=tmp_path, check=True)
    text = (tmp_path / "poster.txt").read_text(encoding="utf-8")
    for phrase in ("Quét mã QR", "Thôn Đắk Rơ Wa", "Điền tờ khai", "Phòng Hồ sơ nghiệp vụ", "Các bước chính"):
        assert phrase in text
    assert "1900 0368" in text and "Công an tỉnh Quảng Ngãi" in text
