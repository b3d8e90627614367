"""A real PostgreSQL server for tests, reusable by any test package.

Import the fixtures in your conftest.py::

    from tests.postgres import postgres_server_url, postgres_url  # noqa: F401

- `postgres_server_url` (session): `TROLY_TEST_POSTGRES_URL` when set (a role
  that may CREATE DATABASE), otherwise a throwaway cluster started here with
  initdb/pg_ctl in a temp dir on a free loopback port, stopped at the end.
- `postgres_url` (per test): a fresh, empty database on that server
  (`postgresql+asyncpg://...`), dropped after the test.

Without PostgreSQL binaries the tests using them are skipped with the reason,
except under CI=true, where they fail: CI must test PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

ENV_URL = "TROLY_TEST_POSTGRES_URL"


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl live: PATH first, then Debian's layout."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return candidates[-1].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temp dir that trusts local connections; as
    root, the server runs as `postgres`. Tests skip fsync for speed;
    benchmarks pass `durable=True` to measure real commits."""

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="troly-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._as_owner: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.root, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as_owner, *args], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> str:
        """Create and start the cluster; returns the superuser's URL."""
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        for attempt in range(3):  # the free port may be taken before we bind it
            self.port = _free_port()
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            try:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "30",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    options,
                )
                return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
            except RuntimeError:
                if attempt == 2:
                    log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start; log tail:\n{log}") from None
        raise AssertionError("unreachable")

    def unix_socket_url(self) -> str:
        """The started cluster's superuser URL through its Unix socket (what
        a worker on the database's own host uses, docs/deploy.md)."""
        return f"postgresql+asyncpg://postgres@/postgres?host={self.root}&port={self.port}"

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [*self._as_owner, str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL tests must run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    bindir = postgres_bindir()
    if bindir is None:
        _unavailable(f"PostgreSQL binaries not found (install Debian's postgresql, or set {ENV_URL})")
    server = ThrowawayPostgres(bindir)
    try:
        yield server.start()
    finally:
        server.stop()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    name = f"troly_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request, tmp_path) -> str:
    """The same test on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3"
    return request.getfixturevalue("postgres_url")
