"""Every storage test runs on SQLite (a temp file) and on a real PostgreSQL."""

from __future__ import annotations

import pytest

from storage.sql import SqlStorage
from tests.postgres import postgres_server_url, postgres_url, storage_url  # noqa: F401  (fixtures)


@pytest.fixture
async def storage(storage_url: str):
    store = SqlStorage(storage_url)
    await store.init()
    yield store
    await store.close()
