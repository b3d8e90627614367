"""`troly outreach poster` as staff type it before a village visit."""

from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace

from domain.knowledge import load_knowledge
from tests.broadcast.test_cli import run_troly
from tests.outreach.test_poster import decode_qr


def troly(tmp_path, *args, config: str = "") -> SimpleNamespace:
    (tmp_path / "config.yml").write_text(config, encoding="utf-8")
    code, out, err = run_troly("--config", str(tmp_path / "config.yml"), "outreach", *args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


CONFIG = "outreach: {telegram_bot_username: troly_lltp_bot, contact_line: 'Công an tỉnh Gia Lai: 0269 000 000'}\n"


def test_staff_prints_a_poster_whose_qr_opens_the_bot_for_their_village(tmp_path):
    place = ["--place", "Làng Kon Sơ Lăl", "--staff", "GL03"]
    result = troly(tmp_path, "poster", *place, "--out", str(tmp_path), config=CONFIG)
    assert result.returncode == 0, result.stderr
    link = "https://t.me/troly_lltp_bot?start=lang-kon-so-lal_GL03"
    assert f"QR: {link}" in result.stdout
    assert (tmp_path / "poster-lang-kon-so-lal_GL03.pdf").read_bytes().startswith(b"%PDF")
    assert decode_qr((tmp_path / "poster-lang-kon-so-lal_GL03.png").read_bytes()) == [link]
    if shutil.which("pdftotext"):
        subprocess.run(["pdftotext", "poster-lang-kon-so-lal_GL03.pdf", "poster.txt"], cwd=tmp_path, check=True)
        printed = (tmp_path / "poster.txt").read_text(encoding="utf-8")
        steps = load_knowledge().poster_steps("vi")
        assert len(steps) == 5 and all(step.title.split()[0] in printed for step in steps)
        assert "Làng Kon Sơ Lăl" in printed and "Công an tỉnh Gia Lai: 0269 000 000" in printed


def test_poster_input_mistakes_get_a_clear_message(tmp_path):
    result = troly(tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB 07", config=CONFIG)
    assert result.returncode == 2 and "staff code" in result.stderr and "Traceback" not in result.stderr
    result = troly(tmp_path, "poster", "--place", "Xã Tân Phú", "--staff", "CB07")
    assert result.returncode == 2 and "outreach.telegram_bot_username" in result.stderr
