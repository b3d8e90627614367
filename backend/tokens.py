"""Signed, unguessable, expiring tokens for certificate verification links.

token = base64url(payload) "." base64url(HMAC-SHA256(key, payload)), payload
= "<certificate id>.<expiry unix seconds>". The id is 128 random bits, so a
link cannot be guessed; the signature makes any edit detectable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,200}\.[A-Za-z0-9_-]{43}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"certificate:" + payload, hashlib.sha256).digest()


def sign_token(key: bytes, certificate_id: str, expires_at: datetime) -> str:
    payload = f"{certificate_id}.{int(expires_at.timestamp())}".encode("ascii")
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


@dataclass(frozen=True)
class TokenClaims:
    certificate_id: str
    expires_at: datetime


def read_token(key: bytes, token: str) -> TokenClaims | None:
    """The token's claims if its signature is right (expiry NOT checked
    here: the page says "expired" rather than "unknown"), else None."""
    if not TOKEN_SHAPE.match(token):
        return None
    payload_text, mac_text = token.split(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
        # Only the canonical spelling: base64 ignores the last character's low
        # bits, and a link must not have several valid spellings.
        if _b64(payload) != payload_text or _b64(mac) != mac_text:
            return None
        if not hmac.compare_digest(_mac(key, payload), mac):
            return None
        certificate_id, expiry = payload.decode("ascii").split(".")
        return TokenClaims(certificate_id, datetime.fromtimestamp(int(expiry), UTC))
    except (ValueError, UnicodeDecodeError):
        return None
