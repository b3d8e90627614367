"""Where the project lives: relative paths in the configuration and the
default SQLite files are resolved against `PROJECT_ROOT`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR_ENV = "TROLY_VAR_DIR"


def var_dir(root: Path = PROJECT_ROOT) -> Path:
    """Where runtime state lives (databases, keys, the NLU model, media):
    `<root>/var`; for the project itself `$TROLY_VAR_DIR` when set (the test
    suite sets a temporary one, so no test writes into the repository)."""
    override = os.environ.get(VAR_DIR_ENV)
    return Path(override) if override and root == PROJECT_ROOT else root / "var"


def project_path(relative: str | Path, root: Path = PROJECT_ROOT) -> Path:
    """A configured path: absolute as is, `var/...` in `var_dir(root)`,
    anything else relative to `root`."""
    path = Path(relative)
    if path.is_absolute():
        return path
    if path.parts[:1] == ("var",):
        return var_dir(root).joinpath(*path.parts[1:])
    return root / path


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can enter (0700) when we create
    it: `var/` holds OAuth tokens, the pseudonym salt, the mock's personal data."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """`path` as a file only its owner can read (0600), created empty if it
    does not exist (a SQLite database then starts in it), in a `private_dir`."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        with contextlib.suppress(PermissionError):
            os.chmod(path, 0o600)  # one from before: tightened (WAL files follow it)
    return path
