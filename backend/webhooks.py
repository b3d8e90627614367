"""Signed status webhooks: the backend POSTs an event to the bot when a
request's status changes; the bot checks it with `verify_signature`.

Signature: `X-Troly-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`
with `X-Troly-Timestamp: <unix seconds>`. Signing the timestamp with the body
lets the receiver refuse replays older than its freshness window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Troly-Signature"
TIMESTAMP_HEADER = "X-Troly-Timestamp"
EVENT_ID_HEADER = "X-Troly-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, event_id: str, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body, timestamp),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_ID_HEADER: event_id,
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def verify_signature(
    secret: bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True only for a body signed with `secret` less than `tolerance_seconds`
    ago (either way, for clock skew). Constant-time comparison."""
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp_text = _header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp_text or not timestamp_text.isdigit() or len(timestamp_text) > 12:
        return False
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp).encode(), signature.encode())
