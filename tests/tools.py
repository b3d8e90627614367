"""External tools some tests need (Debian's chromium, poppler's pdftoppm and
pdftotext). Without one, those tests skip on a developer's machine and FAIL
under CI=true: CI must run them (`.ci/run` installs the tools)."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
# The demo laptop as a phone on its Wi-Fi would reach it: the bot puts no QR
# code on a loopback link, so the tests' mock signs its links for this name.
# A .test name never resolves on the internet (RFC 6761); the tests resolve
# it to loopback themselves (Chromium's host resolver rule below, httpx in
# tests/certificate_pages.py).
DEMO_HOST = "troly-demo.test"
CHROMIUM_ARGS = [
    f"--host-resolver-rules=MAP {DEMO_HOST} 127.0.0.1",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, what: str) -> None:
    """Skip the calling test without `what`, or fail it on CI."""
    if available:
        return
    if on_ci():
        pytest.fail(f"{what} is needed on CI and is missing", pytrace=False)
    pytest.skip(f"needs {what}")


def require_chromium() -> None:
    require(os.path.exists(CHROMIUM), f"Debian's chromium ({CHROMIUM})")


def require_program(name: str, package: str) -> None:
    require(shutil.which(name) is not None, f"{name} ({package})")


def demo_url(port: int) -> str:
    """The address of a server on loopback `port`, as a phone would open it."""
    return f"http://{DEMO_HOST}:{port}"
