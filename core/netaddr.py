"""Which network addresses another device (a citizen's phone) can open."""

from __future__ import annotations

import ipaddress


def phone_unreachable(host: str) -> bool:
    """True for a host no other device can open: loopback (127.x, ::1,
    localhost) or the "every interface" placeholder (0.0.0.0, ::)."""
    host = host.strip("[]").lower()
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: the network's DNS decides
    return address.is_loopback or address.is_unspecified
