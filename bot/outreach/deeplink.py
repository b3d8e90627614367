"""The outreach start payload: which poster (place and staff member) a
citizen came from, inside Telegram's deep-link limits ([A-Za-z0-9_-], at
most 64 characters).

    start_payload("Xã Tân Phú", "CB07") == "xa-tan-phu_CB07"
    https://t.me/<bot>?start=xa-tan-phu_CB07

The place is folded to ASCII words joined by "-", the staff code follows
the last "_", so `parse_payload` can split them again and a broadcast
segment `source=xa-tan-phu` reaches everyone from that place.
"""

from __future__ import annotations

import re

from core.textkey import fold_diacritics

MAX_PAYLOAD = 64
STAFF_CODE = re.compile(r"^[A-Za-z0-9]{1,16}$")
PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


class OutreachError(ValueError):
    """Input we cannot turn into a poster, with a message for staff."""


def place_slug(place: str) -> str:
    words = re.findall(r"[a-z0-9]+", fold_diacritics(place).lower())
    return "-".join(words)


def start_payload(place: str, staff: str) -> str:
    """The deep-link payload for a poster at `place` by `staff`."""
    if not STAFF_CODE.match(staff):
        raise OutreachError(f"--staff {staff!r}: a staff code is 1-16 letters or digits, e.g. CB07")
    slug = place_slug(place)
    if not slug:
        raise OutreachError(f"--place {place!r}: write the commune or village name")
    slug = slug[: MAX_PAYLOAD - len(staff) - 1].rstrip("-")
    return f"{slug}_{staff}"


def parse_payload(payload: str | None) -> tuple[str, str] | None:
    """(place slug, staff code) from a stored start payload, or None for a
    payload that did not come from a poster."""
    if not payload or not PAYLOAD.match(payload) or "_" not in payload:
        return None
    place, staff = payload.rsplit("_", 1)
    if not place or not STAFF_CODE.match(staff):
        return None
    return place, staff


def deep_link(bot_username: str, payload: str) -> str:
    """`https://t.me/<bot>?start=<payload>`: opens the bot and sends /start payload."""
    if not BOT_USERNAME.match(bot_username):
        raise OutreachError(f"{bot_username!r} is not a Telegram bot username (set outreach.telegram_bot_username)")
    return f"https://t.me/{bot_username}?start={payload}"
