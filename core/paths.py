"""Where the project lives: relative paths in the configuration and the
default SQLite files are resolved against `PROJECT_ROOT`."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
