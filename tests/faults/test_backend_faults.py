"""The government backend down, slow or failing: the citizen is answered
within 3 seconds with the last known status of their request and its age."""

from __future__ import annotations

import time

import pytest

from core.messages import Inbound, InboundKind
from tests.faults.conftest import set_faults

CODE = "000.00.01.H01-261103-0012"  # demo request, COMPLETED, held by Lan
LAN_ID = "001190004567"
ANSWER_WITHIN = 3.0


class Citizen:
    """One web-chat user talking to the runtime's dispatcher."""

    def __init__(self, runtime, user_id: str = "citizen-1") -> None:
        self.runtime = runtime
        self.user_id = user_id
        self.seconds = 0.0

    async def send(self, text: str = "", payload: str = "") -> str:
        kind = InboundKind.BUTTON if payload else InboundKind.TEXT
        inbound = Inbound("web", self.user_id, self.user_id, kind=kind, text=text, payload=payload, locale="vi")
        started = time.perf_counter()
        replies = await self.runtime.handle(inbound)
        self.seconds = time.perf_counter() - started
        return "\n".join(reply.text for reply in replies)

    async def look_up_status(self) -> str:
        await self.send(payload="menu:open:status")
        await self.send(CODE)
        return await self.send(LAN_ID)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"down": True}, id="down"),
        pytest.param({"latency_ms": 8000}, id="slow-beyond-the-timeout"),
        pytest.param({"error_rate": 1.0}, id="answering-500"),
    ],
)
async def test_citizen_gets_last_known_status_and_its_age_within_3_s_when_backend_fails(
    tmp_path, mock_backend, bot_on, fault
):
    bot = await bot_on(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}", mock_backend.url)
    citizen = Citizen(bot)
    healthy = await citizen.look_up_status()
    assert CODE in healthy and "gián đoạn" not in healthy

    await set_faults(mock_backend.url, **fault)
    answer = await citizen.look_up_status()

    assert citizen.seconds < ANSWER_WITHIN, f"answered in {citizen.seconds:.2f} s"
    assert "Hệ thống hồ sơ đang gián đoạn" in answer  # says the status may be old
    assert "cập nhật cách đây 1 phút" in answer  # ... and how old
    assert CODE in answer and "Tình trạng:" in answer  # the last known status itself


async def test_citizen_without_earlier_status_is_told_to_retry_within_3_s_when_backend_is_down(
    tmp_path, mock_backend, bot_on
):
    bot = await bot_on(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}", mock_backend.url)
    await set_faults(mock_backend.url, latency_ms=8000)
    citizen = Citizen(bot)
    answer = await citizen.look_up_status()
    assert citizen.seconds < ANSWER_WITHIN, f"answered in {citizen.seconds:.2f} s"
    assert "chưa có thông tin cũ" in answer and "Tình trạng:" not in answer
