from __future__ import annotations

import pytest

from bot.dispatcher import Dispatcher
from tests.flows.helpers import Chat, make_services


@pytest.fixture
def services(storage):
    return make_services(storage)


@pytest.fixture
def dispatcher(services):
    return Dispatcher(services)


@pytest.fixture
def chat(dispatcher):
    return Chat(dispatcher)
