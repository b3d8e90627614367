"""Secrets: from environment variables only (never config.yml, never logged),
or, for the offline demo, generated once and kept in a file of `var/` so
signed links and webhook checks survive restarts."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.paths import private_dir


def secret(name: str) -> str | None:
    """The environment variable `name`, stripped; None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def load_or_create_secret(env_name: str, keep_in: Path) -> bytes:
    """The secret named `env_name`, else the one kept in `keep_in`, else a new
    random one written there (readable by the owner only)."""
    configured = secret(env_name)
    if configured:
        return configured.encode("utf-8")
    try:
        stored = keep_in.read_bytes().strip()
        if stored:
            return stored
    except FileNotFoundError:
        pass
    private_dir(keep_in.parent)
    generated = secrets.token_urlsafe(32).encode("ascii")
    try:
        # O_EXCL: if two processes race, one creates and both read the winner's.
        descriptor = os.open(keep_in, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return keep_in.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as file:
        file.write(generated)
    return generated
