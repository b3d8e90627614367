"""Which channels a poster offers, and the link each QR code opens.

Every configured channel gets a QR code: Zalo (most citizens use it), Telegram
(a deep link carrying the poster's place and staff code) and the web chat at
this laptop's LAN address (what works in a village with no internet). A QR
code never encodes a loopback address: no phone could open it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.config import Settings
from bot.lan import lan_ip, lan_url
from bot.outreach.deeplink import OutreachError, deep_link
from bot.outreach.poster import PosterChannel
from core.netaddr import phone_unreachable

LAN_HINT = (
    "the web chat's QR code needs this laptop's address on the village Wi-Fi: "
    "join the Wi-Fi (or turn on the hotspot) and try again, or give --web-url http://<LAN address>:<port>/"
)


def poster_channels(settings: Settings, payload: str, web_url: str | None = None) -> tuple[list[PosterChannel], str]:
    """The channels for a poster, Zalo first, and a note for staff (empty
    when there is nothing to add). Raises OutreachError when no channel can
    be offered."""
    channels: list[PosterChannel] = []
    outreach = settings.outreach
    if outreach.zalo_link:
        channels.append(PosterChannel("Zalo", outreach.zalo_link, "Mở Zalo, quét mã QR", "Open Zalo, scan the QR"))
    if outreach.telegram_bot_username:
        link = deep_link(outreach.telegram_bot_username, payload)
        channels.append(PosterChannel("Telegram", link, "Quét bằng camera", "Scan with your camera"))
    note = ""
    web = web_chat_url(settings, web_url)
    if web:
        channels.append(
            PosterChannel("Web · Wi-Fi", f"{web}?start={payload}", "Bắt Wi-Fi của cán bộ", "Join the staff's Wi-Fi")
        )
        note = (
            f"The web chat's QR code opens {web}: on the day, start the bot on this laptop with "
            "`.venv/bin/troly run --lan` so phones on its Wi-Fi can reach it."
        )
    elif not channels:
        raise OutreachError(
            "no channel to put on the poster: set outreach.zalo_link or outreach.telegram_bot_username "
            f"in config.yml, or {LAN_HINT}"
        )
    else:
        note = f"No web chat QR code: {LAN_HINT}"
    return channels, note


def web_chat_url(settings: Settings, web_url: str | None = None) -> str | None:
    """The web chat's address as phones see it: `--web-url`, else the
    configured public address, else this laptop's LAN address with the web
    port; None when only a loopback address is known."""
    if web_url:
        host = urlsplit(web_url).hostname or ""
        if urlsplit(web_url).scheme not in ("http", "https") or phone_unreachable(host):
            raise OutreachError(f"--web-url {web_url!r}: give the address phones open, e.g. http://192.168.1.10:8080/")
        return web_url.rstrip("/") + "/"
    public = settings.web.public_base_url
    if public and not phone_unreachable(urlsplit(public).hostname or ""):
        return public.rstrip("/") + "/"
    ip = lan_ip()
    return None if phone_unreachable(ip) else lan_url(ip, settings.web.port)
