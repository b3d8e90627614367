"""Hardening tests reuse the dialogue fixtures (real SqlStorage on SQLite,
the in-memory mock backend, the scripted NLU) and the whole-bot fixture of
the web tests; the dispatcher here also carries the staff commands, so
forged admin commands meet the real role check."""

from __future__ import annotations

from itertools import count

import pytest

from bot.config import RolesSettings
from bot.dispatcher import Dispatcher
from bot.roles import Roles
from bot.staff_commands import StaffCommands
from storage.broadcasts.store import BroadcastStore
from tests.flows.conftest import chat, services  # noqa: F401  (fixtures)
from tests.flows.helpers import Chat
from tests.web.conftest import bot_settings, running_bot  # noqa: F401  (fixtures)

ADMIN = ("telegram", "admin1")  # a web id cannot hold a role (issue 20, finding 5)


@pytest.fixture
def staff(storage):
    roles = Roles(storage, RolesSettings(admins=[f"{ADMIN[0]}:{ADMIN[1]}"]))
    return StaffCommands(roles, BroadcastStore(storage))


@pytest.fixture
def dispatcher(services, staff):
    return Dispatcher(services, interceptors=[staff.handle])


@pytest.fixture
def talk(dispatcher):
    """A chat driver for any user: `talk("userA")`. Update ids never repeat
    within a test, so a second driver for the same user is not taken for a
    platform redelivery."""
    ids = count(1)
    return lambda user_id: Chat(dispatcher, user_id=user_id, _ids=ids)
