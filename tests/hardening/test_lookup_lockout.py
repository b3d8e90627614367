"""The status-lookup lock-out holds per request code (issue 20, finding 4):
new user ids get no fresh tries at one code, the holder gets in once the
lock-out is over, and every refusal is said politely, with a human offered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.client import BackendClient
from backend.server import create_app
from bot.dispatcher import Dispatcher
from tests.backend.conftest import make_settings
from tests.flows.helpers import COMPLETED_CODE, LAN_ID, LAN_LAST4_AND_BIRTH, Chat, make_services

WRONG_ID = "079085001234"  # a real-looking id number, not the holder's


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(services) -> Clock:
    services.now = clock = Clock()
    return clock


async def guess(chat, times: int) -> None:
    await chat.onboard("vi")
    await chat.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    for _ in range(times):
        await chat.say(WRONG_ID)


def has_qr(chat) -> bool:
    return any(reply.image for reply in chat.last)


async def test_new_user_ids_cannot_keep_guessing_one_code(talk, clock):
    await guess(talk("guesser1"), 3)  # locked out as a user
    second = talk("guesser2")
    await guess(second, 2)  # the code's fifth wrong proof
    assert "tạm dừng tra cứu" in second.text and "menu:open:handoff" in second.payloads
    third = talk("guesser3")
    await third.onboard("vi")
    await third.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    await third.say(LAN_LAST4_AND_BIRTH)  # even the right proof: the code is locked for everyone
    assert not has_qr(third) and "COMPLETED" not in third.text
    assert "15 phút" in third.text and "menu:open:handoff" in third.payloads


async def test_the_holder_gets_in_once_the_lock_out_is_over_and_not_before(talk, clock):
    await guess(talk("guesser1"), 3)
    await guess(talk("guesser2"), 2)
    holder = talk("holder")
    await holder.onboard("en")
    await holder.say(f"status {COMPLETED_CODE}")
    clock.at += timedelta(minutes=14)
    await holder.say(LAN_ID)
    assert not has_qr(holder) and "in 1 minutes" in holder.text and "ask an officer" in holder.text
    clock.at += timedelta(minutes=1, seconds=1)
    await holder.say(LAN_ID)  # the code was kept: the proof alone is enough
    assert has_qr(holder)


async def test_a_users_own_lock_out_lasts_fifteen_minutes_not_less(talk, clock):
    """Three wrong proofs lock this user out (the code's own limit, five, is
    not reached): even the right proof waits 15 minutes, then gets through."""
    user = talk("mistyper")
    await guess(user, 3)
    assert "menu:open:handoff" in user.payloads
    clock.at += timedelta(minutes=14, seconds=50)
    await user.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    await user.say(LAN_ID)
    assert not has_qr(user) and "1 phút" in user.text
    clock.at += timedelta(seconds=11)
    await user.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    await user.say(LAN_ID)
    assert has_qr(user)


async def test_wrong_proofs_for_other_codes_do_not_lock_a_holder_out(talk, clock):
    await guess(talk("guesser1"), 3)
    other = talk("holder")
    await other.onboard("vi")
    await other.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    await other.say(LAN_ID)
    assert has_qr(other)


@pytest.fixture
async def http_dispatcher(storage, tmp_path):
    """The bot against the mock over its HTTP API (in-process ASGI), so the
    mock's own limit is met too."""
    app = create_app(make_settings(tmp_path))
    client = BackendClient("http://mock", transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 40000)))
    yield Dispatcher(make_services(storage, backend=client)), app
    await client.aclose()
    app.state.service.close()


async def test_the_mocks_refusal_reaches_the_citizen_politely(http_dispatcher):
    dispatcher, app = http_dispatcher
    # Another client (another bot, a script) guessed the code at the mock itself.
    transport = httpx.ASGITransport(app=app, client=("10.0.0.66", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as attacker:
        for _ in range(5):
            wrong = {"id_last4": "0000", "birth_date": "1990-03-14"}
            assert (await attacker.post(f"/api/v1/requests/{COMPLETED_CODE}/status", json=wrong)).status_code == 404
    holder = Chat(dispatcher, user_id="holder")
    await holder.onboard("vi")
    await holder.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    await holder.say(LAN_ID)
    assert not has_qr(holder)
    assert "tạm dừng tra cứu" in holder.text and "menu:open:handoff" in holder.payloads
