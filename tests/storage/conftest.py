"""Every storage test runs on SQLite (a temp file) and on a real PostgreSQL."""

from __future__ import annotations

import pytest

from storage.sql import SqlStorage
from tests.postgres import postgres_server_url, postgres_url  # noqa: F401  (fixtures)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def storage(storage_url: str):
    store = SqlStorage(storage_url)
    await store.init()
    yield store
    await store.close()
