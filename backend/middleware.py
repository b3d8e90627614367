"""ASGI middleware in front of every route: the request body size limit,
the admin token check on /admin, and headers that forbid framing the pages
(verification, payment, simulator). (Fault injection on /api is `backend.faults`.)"""

from __future__ import annotations

import secrets

from backend.errors import error_json
from backend.settings import MockSettings

MAX_BODY_BYTES = 16 * 1024


class BodyLimit:
    """Refuse bodies over MAX_BODY_BYTES (413) before anything reads them,
    whether or not the client sent a Content-Length."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = error_json(
            413,
            "body_too_large",
            "Dữ liệu gửi lên quá lớn.",
            f"The request body is larger than {MAX_BODY_BYTES} bytes.",
        )
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return await too_big(scope, receive, send)
        if length is not None or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        # No length given (chunked): read it all here, at most the limit, then replay.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_BODY_BYTES:
                return await too_big(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class AdminAuth:
    """`Authorization: Bearer <admin token>` required on /admin, always
    (checked in constant time). With no token configured (None, empty or
    blank) every /admin request is refused: the demo controls are never open."""

    def __init__(self, app, settings: MockSettings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and _is_admin(scope["path"]) and not self._authorised(scope):
            refusal = error_json(401, "unauthorised", "Cần mã quản trị.", "Admin token required.")
            return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    def _authorised(self, scope) -> bool:
        token = (self.settings.admin_token or "").strip()
        if not token:
            return False
        given = dict(scope["headers"]).get(b"authorization", b"")
        return secrets.compare_digest(given, f"Bearer {token}".encode())


def _is_admin(path: str) -> bool:
    """Whether `path` is under /admin, however it is spelled (`//admin`, `/ADMIN`)."""
    return ("/" + path.lstrip("/")).lower().startswith("/admin")


NO_FRAMING = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]


class NoFraming:
    """No page of the mock may be framed by another site (a payment or
    verification page under someone else's buttons): `X-Frame-Options: DENY`
    and `frame-ancestors 'none'` on every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *NO_FRAMING]}
            await send(message)

        await self.app(scope, receive, with_headers)
