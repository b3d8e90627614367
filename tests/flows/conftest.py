from __future__ import annotations

import pytest

from bot.dispatcher import Dispatcher
from storage.sql import SqlStorage
from tests.flows.helpers import Chat, make_services, sqlite_url


@pytest.fixture
async def storage(tmp_path):
    store = SqlStorage(sqlite_url(tmp_path))
    await store.init()
    yield store
    await store.close()


@pytest.fixture
def services(storage):
    return make_services(storage)


@pytest.fixture
def dispatcher(services):
    return Dispatcher(services)


@pytest.fixture
def chat(dispatcher):
    return Chat(dispatcher)
