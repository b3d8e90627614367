"""When a broadcast goes: the times admins write, read as Vietnam time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving time
_RELATIVE = re.compile(r"^\+(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class WhenError(ValueError):
    """A time we cannot read, or one in the past, with a message for the admin."""


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """`2026-12-01 08:00` (Vietnam time unless an offset is given),
    `2026-12-01T01:00Z`, or relative `+30m`, `+2h`, `+1d`; returned in UTC."""
    now = now or datetime.now(UTC)
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return now + timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WhenError(f"time {text!r}: write it like 2026-12-01 08:00 (Vietnam time) or +2h") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=VIETNAM)
    if when < now - timedelta(minutes=1):
        raise WhenError(f"time {text!r} is in the past")
    return when.astimezone(UTC)
