"""Shared test set-up.

Tests never reach the internet: like python-telegram-bot's offline request
class, any connection to a non-loopback address fails the test at once.
Fakes of Telegram, Zalo and the government backend are loopback servers.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

from core.paths import PROJECT_ROOT, VAR_DIR_ENV
from tests.tools import on_ci

# Tests never write into the repository: the project's var/ (keys, models,
# databases a test did not place itself) and hypothesis' directory are a
# temporary directory, for this process and the processes it starts.
os.environ.setdefault(VAR_DIR_ENV, tempfile.mkdtemp(prefix="troly-test-var-"))
set_hypothesis_home_dir(str(Path(os.environ[VAR_DIR_ENV]) / "hypothesis"))

# On CI, property tests and the HTTP fuzzing draw the same examples every run
# (a seed derived from each test): a CI failure can be replayed, and a run
# cannot pass by luck. On a developer's machine they keep exploring.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if on_ci():
    hypothesis_settings.load_profile("ci")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # Unix socket path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost


class NetworkAccessDenied(RuntimeError):
    pass


def _guarded_connect(self, address):
    if not _is_local(address):
        raise NetworkAccessDenied(f"tests must not reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise NetworkAccessDenied(f"tests must not reach the network: {address!r}")
    return _real_connect_ex(self, address)


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    if not directory.exists():
        return {}
    return {
        str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in directory.rglob("*")
        if path.is_file()
    }


@pytest.fixture(autouse=True, scope="session")
def _repository_var_untouched():
    """The repository's var/ is the same after the tests as before them."""
    before = _snapshot(PROJECT_ROOT / "var")
    yield
    after = _snapshot(PROJECT_ROOT / "var")
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"tests wrote into the repository's var/: {changed[:10]}"


@pytest.fixture(autouse=True, scope="session")
def _no_internet():
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Browser tests (`browser`) and those needing a program (`needs_program`)
    skip without their tool on a developer's machine and fail on CI."""
    from tests.tools import require_chromium, require_program

    if item.get_closest_marker("browser"):
        require_chromium()
    for marker in item.iter_markers("needs_program"):
        require_program(*marker.args)


@pytest.fixture
async def storage(tmp_path):
    """A migrated SQLite file of this test's own. Suites that must run on
    PostgreSQL too (tests/storage, tests/broadcast) override it."""
    from storage.sql import SqlStorage
    from tests.flows.helpers import sqlite_url

    store = SqlStorage(sqlite_url(tmp_path))
    await store.init()
    yield store
    await store.close()
