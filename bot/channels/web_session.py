"""The web chat's session: a server-issued, signed, HttpOnly cookie naming
the citizen's web user id. The page never holds or sends an id, and an id
typed into a request body or URL opens nobody's messages: only a cookie
whose HMAC tag verifies does.

The key is derived from the media secret (TROLY_MEDIA_SECRET or the one
kept in var/), so sessions survive restarts and every worker agrees.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "troly_session"
MAX_AGE = 180 * 24 * 3600  # a citizen comes back over weeks while a request is processed
_TAG_BYTES = 18


class WebSessions:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the web session secret must be at least 16 bytes")
        self._key = hmac.new(secret, b"troly-web-session-v1", hashlib.sha256).digest()

    @staticmethod
    def new_user_id() -> str:
        return "w" + secrets.token_hex(12)

    def cookie_value(self, user_id: str) -> str:
        return f"{user_id}.{self._tag(user_id)}"

    def user_of(self, request: Request) -> str | None:
        """The user id the request's cookie vouches for, or None."""
        value = request.cookies.get(COOKIE, "")
        user_id, _, tag = value.rpartition(".")
        if not user_id or not hmac.compare_digest(tag, self._tag(user_id)):
            return None
        return user_id

    def attach(self, response: Response, request: Request, user_id: str) -> None:
        response.set_cookie(
            COOKIE,
            self.cookie_value(user_id),
            max_age=MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",  # sent by the page's own requests, not by another site's form posts
            secure=request.url.scheme == "https",
        )

    def _tag(self, user_id: str) -> str:
        digest = hmac.new(self._key, user_id.encode(), hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.urlsafe_b64encode(digest).decode("ascii")
