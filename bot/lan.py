"""LAN demo: `troly run --lan` serves the web chat on the local network
(e.g. the staff laptop's hotspot, no internet needed) and shows its address
as a QR code, in the terminal and on the chat page (`/join-qr.png`), so
villagers' phones join by scanning it."""

from __future__ import annotations

import io
import socket
from urllib.parse import urlsplit

import qrcode

from core.netaddr import phone_unreachable
from core.qr import qr_png

LAN_HOST = "0.0.0.0"
QR_PATH = "/join-qr.png"
NO_JOIN_QR = (
    "Máy chỉ mở trợ lý ở địa chỉ nội bộ 127.0.0.1, điện thoại khác không mở được. "
    "Chạy `.venv/bin/troly run --lan` để điện thoại cùng Wi-Fi quét mã.\n"
    "Only a loopback address is known, which no phone can open. "
    "Start the bot with `.venv/bin/troly run --lan` so phones on the same Wi-Fi can scan the code.\n"
)


def lan_ip() -> str:
    """This machine's address on its local network: the source address the
    system would use for an outside destination. A UDP "connect" sends no
    packet, so this works with no internet at all; 127.0.0.1 without any
    network."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    return address


def lan_url(ip: str, port: int) -> str:
    return f"http://{ip}:{port}/"


def url_for_phones(base_url: str, listen_host: str, ip: str | None = None) -> str | None:
    """The address a phone can open for a server configured with `base_url`
    and listening on `listen_host`, or None when there is none: a loopback
    or 0.0.0.0 base is replaced by this machine's LAN address only when the
    server listens on every interface (`troly run --lan`)."""
    parts = urlsplit(base_url)
    if not phone_unreachable(parts.hostname or ""):
        return base_url
    listen_host = listen_host.strip("[]")
    if not phone_unreachable(listen_host):
        candidate = listen_host  # one LAN address
    elif listen_host in ("0.0.0.0", "::"):
        candidate = ip or lan_ip()
    else:
        return None  # listening on loopback: no phone can reach it
    if phone_unreachable(candidate):
        return None
    host = f"[{candidate}]" if ":" in candidate else candidate
    return parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()


def terminal_qr(text: str) -> str:
    """The QR code of `text` drawn with block characters, for a terminal."""
    code = qrcode.QRCode(border=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def join_qr_png(url: str) -> bytes:
    """A PNG of the QR code of `url` for the chat page, big enough to scan
    from a screen (a narrow quiet zone: the page around it is white)."""
    return qr_png(url, box_size=8, border=2)


def lan_banner(url: str) -> str:
    """What `troly run --lan` prints: the address and its QR code."""
    return (
        f"Mạng nội bộ / LAN demo: {url}\n"
        "Điện thoại bắt cùng Wi-Fi (điểm phát của máy này), quét mã để mở trợ lý.\n"
        "Phones on the same Wi-Fi (this laptop's hotspot): scan to open the assistant.\n"
        f"{terminal_qr(url)}"
    )
