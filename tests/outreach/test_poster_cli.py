"""`troly outreach poster` as staff type it before a village visit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from domain.knowledge import load_knowledge
from tests.broadcast.test_cli import run_troly
from tests.outreach.test_poster import decode_qr

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
README_POSTER = REPO_CONFIG.parent / "docs" / "poster.png"


def troly(tmp_path, *args, config: str | None = "") -> SimpleNamespace:
    """`troly outreach ARGS` with `config` as config.yml (None: the repository's own, as on a fresh clone)."""
    path = REPO_CONFIG
    if config is not None:
        path = tmp_path / "config.yml"
        path.write_text(config, encoding="utf-8")
    code, out, err = run_troly("--config", str(path), "outreach", *args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def printed_text(pdf: Path) -> str:
    subprocess.run(["pdftotext", pdf.name, "poster.txt"], cwd=pdf.parent, check=True)
    return (pdf.parent / "poster.txt").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def laptop_on_wifi(monkeypatch):
    """This laptop's address on the village hotspot (tests never probe the real network)."""
    monkeypatch.setattr("bot.outreach.channels.lan_ip", lambda: "192.168.137.1")


CONFIG = (
    "outreach: {telegram_bot_username: troly_lltp_bot, zalo_link: 'https://zalo.me/1234567890123456789',"
    " contact_line: 'Công an tỉnh Gia Lai: 0269 000 000'}\n"
)


@pytest.mark.needs_program("pdftotext", "poppler-utils")
def test_on_a_fresh_install_the_readme_command_makes_a_web_chat_poster(tmp_path):
    result = troly(tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB07", "--out", str(tmp_path), config=None)
    assert result.returncode == 0, result.stderr
    link = "http://192.168.137.1:8080/?start=xa-tan-phu_CB07"
    assert f"QR Web · Wi-Fi: {link}" in result.stdout and "troly run --lan" in result.stdout
    assert "--province" in result.stdout  # Tân Phú is a commune name in several provinces
    assert decode_qr((tmp_path / "poster-xa-tan-phu_CB07.png").read_bytes()) == [link]
    printed = printed_text(tmp_path / "poster-xa-tan-phu_CB07.pdf")
    assert "1900 0368" in printed and "Phòng Hồ sơ nghiệp vụ, Công an tỉnh/thành phố" in printed


@pytest.mark.needs_program("pdftotext", "poppler-utils")
def test_staff_prints_a_poster_with_every_configured_channel_and_their_province_police(tmp_path):
    place = ["--place", "Làng Kon Sơ Lăl", "--staff", "GL03", "--province", "52"]
    result = troly(tmp_path, "poster", *place, "--out", str(tmp_path), config=CONFIG.replace(" contact_line", " x"))
    assert result.returncode == 2  # an unknown config key is refused
    result = troly(
        tmp_path, "poster", *place, "--out", str(tmp_path), config=CONFIG.split(", contact_line", maxsplit=1)[0] + "}\n"
    )
    assert result.returncode == 0, result.stderr
    links = [
        "https://zalo.me/1234567890123456789",
        "https://t.me/troly_lltp_bot?start=lang-kon-so-lal_GL03",
        "http://192.168.137.1:8080/?start=lang-kon-so-lal_GL03",
    ]
    assert [line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("QR ")] == links
    assert sorted(decode_qr((tmp_path / "poster-lang-kon-so-lal_GL03.png").read_bytes())) == sorted(links)
    printed = printed_text(tmp_path / "poster-lang-kon-so-lal_GL03.pdf")
    steps = load_knowledge().poster_steps("vi")
    assert len(steps) == 5 and all(step.title.split()[0] in printed for step in steps)
    assert "Làng Kon Sơ Lăl" in printed and "Công an tỉnh Gia Lai" in printed and "1900 0368" in printed


@pytest.mark.needs_program("pdftotext", "poppler-utils")
def test_a_province_contact_line_replaces_the_unit_and_the_province_is_found_from_the_commune(tmp_path):
    result = troly(
        tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB07", "--out", str(tmp_path), config=CONFIG
    )
    assert result.returncode == 0, result.stderr
    assert "Công an tỉnh Gia Lai: 0269 000 000" in printed_text(tmp_path / "poster-xa-tan-phu_CB07.pdf")
    from bot.outreach.contact import poster_contact

    assert "Công an thành phố Hà Nội" in poster_contact("Phường Ba Đình", None).lines[0]


def test_no_qr_code_ever_opens_a_loopback_address(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.outreach.channels.lan_ip", lambda: "127.0.0.1")  # no network at all
    result = troly(tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB07", "--out", str(tmp_path))
    assert result.returncode == 2 and "--web-url" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("poster-*"))
    local = ["--web-url", "http://127.0.0.1:8080/"]
    result = troly(tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB07", *local, config=CONFIG)
    assert result.returncode == 2 and "phones open" in result.stderr
    result = troly(
        tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB07", "--out", str(tmp_path), config=CONFIG
    )
    assert result.returncode == 0 and "No web chat QR code" in result.stdout and "Wi-Fi" in result.stdout
    assert all("127.0.0.1" not in link for link in decode_qr((tmp_path / "poster-xa-tan-phu_CB07.png").read_bytes()))


def test_poster_input_mistakes_get_a_clear_message(tmp_path):
    result = troly(tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB 07", config=CONFIG)
    assert result.returncode == 2 and "staff code" in result.stderr and "Traceback" not in result.stderr
    result = troly(tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB07", "--province", "99", config=CONFIG)
    assert result.returncode == 2 and "not a province code" in result.stderr


@pytest.mark.needs_program("pdftoppm", "poppler-utils")
def test_the_printed_page_as_the_readme_shows_it(tmp_path):
    """The PDF as printed (rendered by poppler at 100 dpi, the README's
    picture, refreshed with TROLY_UPDATE_SCREENSHOT=1): every QR code decodes."""
    web = ["--web-url", "http://192.168.137.1:8080/", "--province", "80"]
    result = troly(
        tmp_path,
        "poster",
        "--place",
        "Xã Tân Phú",
        "--staff",
        "CB07",
        *web,
        "--out",
        str(tmp_path),
        config=CONFIG.split(", contact_line", maxsplit=1)[0] + "}\n",
    )
    assert result.returncode == 0, result.stderr
    page = README_POSTER.with_suffix("") if os.environ.get("TROLY_UPDATE_SCREENSHOT") else tmp_path / "page"
    pdf = tmp_path / "poster-xa-tan-phu_CB07.pdf"
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(pdf), str(page)], check=True)
    assert sorted(decode_qr(page.with_suffix(".png").read_bytes())) == [
        "http://192.168.137.1:8080/?start=xa-tan-phu_CB07",
        "https://t.me/troly_lltp_bot?start=xa-tan-phu_CB07",
        "https://zalo.me/1234567890123456789",
    ]
