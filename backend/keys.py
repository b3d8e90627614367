"""Secrets of the mock: from the environment, or (offline demo) generated
once and kept in var/ so certificate links and webhook checks survive
restarts. Never logged."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bot.config import secret

SIGNING_KEY_ENV = "TROLY_BACKEND_SIGNING_KEY"
WEBHOOK_SECRET_ENV = "TROLY_BACKEND_WEBHOOK_SECRET"
ADMIN_TOKEN_ENV = "TROLY_BACKEND_ADMIN_TOKEN"


def load_or_create_secret(env_name: str, keep_in: Path) -> bytes:
    """The secret named `env_name`, else the one kept in `keep_in`, else a new
    random one written there (readable by the owner only)."""
    value = secret(env_name)
    if value:
        return value.encode()
    if keep_in.exists():
        return keep_in.read_text(encoding="ascii").strip().encode()
    keep_in.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(keep_in, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value.encode()
