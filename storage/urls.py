"""Storage URLs: a relative SQLite path is made absolute against a root
directory, so the bot finds its database from any working directory."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from core.paths import project_path


def resolve_url(url: str, root: Path) -> str:
    """`url` with a relative SQLite database path resolved against `root`
    (`var/...` in its `var_dir`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    path = project_path(parsed.database, root)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)
