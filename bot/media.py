"""Our own media route: images (guide steps, QR codes) served under signed,
expiring, unguessable URLs, for channels that send pictures by URL (Zalo Bot,
web chat).

Files are content-addressed (`<sha256>.png` in the media directory), so a link
keeps working across restarts until it expires. A token is
`base64url(sha256 digest | expiry | HMAC-SHA256 tag)`: without the secret
nobody can mint a link, change the picture it points to, or extend its life.

    store = MediaStore.from_settings(settings)
    url = store.url_for(reply.image)   # https://…/media/<token>
    app = Starlette(routes=[*store.routes(), ...])
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import struct
import time
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.config import Settings
from core.messages import Image
from core.paths import private_dir
from core.secrets import load_or_create_secret

log = logging.getLogger(__name__)

SECRET_ENV = "TROLY_MEDIA_SECRET"
ROUTE_PREFIX = "/media"

_DIGEST_SIZE = 32  # sha256 of the PNG
_EXPIRY = struct.Struct(">Q")  # unix seconds, 8 bytes big-endian
_TAG_SIZE = 16  # HMAC-SHA256 truncated to 128 bits: far beyond guessing
_TOKEN_BYTES = _DIGEST_SIZE + _EXPIRY.size + _TAG_SIZE


class MediaStore:
    """Stores PNGs by content and hands out signed, expiring URLs for them."""

    def __init__(
        self,
        directory: Path,
        secret: bytes,
        public_base_url: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the media secret must be at least 16 bytes")
        self.directory = Path(directory)
        self._secret = secret
        self.public_base_url = public_base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._next_prune = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaStore:
        """The store configured in `config.yml` (`media` section), with the
        secret from TROLY_MEDIA_SECRET or the one persisted in var/."""
        media = settings.media
        directory = settings.path(media.directory)
        return cls(
            directory=directory,
            secret=media_secret(settings.path(media.secret_file)),
            public_base_url=media.public_base_url or public_base_url(settings),
            ttl_seconds=media.ttl_seconds,
        )

    # --- minting --------------------------------------------------------------
    def url_for(self, image: Image) -> str:
        """Save the picture (once per content) and return a URL valid for
        `ttl_seconds` from now."""
        now = self._clock()
        if now >= self._next_prune:
            self._next_prune = now + min(self.ttl_seconds, 3600)
            self.prune()
        digest = self._save(image.png)
        expires_at = int(now) + self.ttl_seconds
        return f"{self.public_base_url}{ROUTE_PREFIX}/{self._token(digest, expires_at)}"

    def _save(self, png: bytes) -> bytes:
        digest = hashlib.sha256(png).digest()
        path = self._path(digest)
        now = self._clock()
        try:
            os.utime(path, (now, now))  # a new link: keep the file until it expires
        except FileNotFoundError:
            private_dir(self.directory)
            # Write then rename: a reader never sees half a file.
            partial = path.with_suffix(f".{secrets.token_hex(4)}.part")
            with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                file.write(png)  # owner only: QR codes carry certificate links
            os.utime(partial, (now, now))
            os.replace(partial, path)
        return digest

    def prune(self) -> int:
        """Delete pictures whose every link has expired (QR codes point to
        personal certificates: keep them no longer than needed). Returns
        how many were deleted."""
        cutoff = self._clock() - self.ttl_seconds
        removed = 0
        for path in self.directory.glob("*.p*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # another worker pruned it first
        return removed

    def _path(self, digest: bytes) -> Path:
        return self.directory / f"{digest.hex()}.png"

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._secret, b"troly-media-v1|" + body, hashlib.sha256).digest()[:_TAG_SIZE]

    def _token(self, digest: bytes, expires_at: int) -> str:
        body = digest + _EXPIRY.pack(expires_at)
        return base64.urlsafe_b64encode(body + self._tag(body)).rstrip(b"=").decode("ascii")

    # --- serving --------------------------------------------------------------
    def routes(self) -> list[Route]:
        """The Starlette route serving `GET /media/{token}`."""
        return [Route(ROUTE_PREFIX + "/{token}", self._serve, methods=["GET"], name="media")]

    async def _serve(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raw = b""
        if len(raw) != _TOKEN_BYTES:
            return _refuse(404, "Liên kết ảnh không đúng.", "This image link is not valid.")
        body, tag = raw[:-_TAG_SIZE], raw[-_TAG_SIZE:]
        if not hmac.compare_digest(tag, self._tag(body)):
            return _refuse(403, "Liên kết ảnh không hợp lệ.", "This image link is not valid.")
        digest = body[:_DIGEST_SIZE]
        (expires_at,) = _EXPIRY.unpack(body[_DIGEST_SIZE:])
        now = self._clock()
        if now >= expires_at:
            return _refuse(410, "Liên kết ảnh đã hết hạn.", "This image link has expired.")
        try:
            png = self._path(digest).read_bytes()
        except OSError:
            return _refuse(404, "Không tìm thấy ảnh.", "Image not found.")
        max_age = max(0, int(expires_at - now))
        return Response(
            png,
            media_type="image/png",
            headers={"Cache-Control": f"private, max-age={max_age}", "X-Content-Type-Options": "nosniff"},
        )


def _refuse(status: int, vietnamese: str, english: str) -> Response:
    return PlainTextResponse(f"{vietnamese}\n{english}\n", status_code=status, headers={"Cache-Control": "no-store"})


def public_base_url(settings: Settings) -> str:
    """The address phones and platforms use to reach this bot."""
    web = settings.web
    return (web.public_base_url or f"http://{web.host}:{web.port}").rstrip("/")


def media_secret(path: Path) -> bytes:
    """TROLY_MEDIA_SECRET if set; else a random secret generated once and
    kept in `path` so links survive restarts."""
    return load_or_create_secret(SECRET_ENV, path)
