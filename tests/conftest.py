"""Shared test set-up.

Tests never reach the internet: like python-telegram-bot's offline request
class, any connection to a non-loopback address fails the test at once.
Fakes of Telegram, Zalo and the government backend are loopback servers.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

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
