"""Ctrl-C during `troly broadcast send` (issue 20, finding 10): the operator's
real process gets SIGINT mid-broadcast and stops promptly; nothing is lost
(every message the platform took is recorded as sent, nothing stays claimed)
and `troly broadcast deliver` later sends the rest, each citizen once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter

from sqlalchemy import func, select

from core.paths import PROJECT_ROOT
from storage.schema import broadcast_deliveries
from tests.broadcast.conftest import add_citizens
from tests.broadcast.test_cli import troly, write_config
from tests.fakes.telegram_api import FakeTelegramApi

RECIPIENTS = 120
INTERRUPT_AFTER = 20  # messages the platform took before Ctrl-C


async def delivery_states(storage) -> Counter[str]:
    async with storage.transaction() as conn:
        rows = await conn.execute(
            select(broadcast_deliveries.c.state, func.count()).group_by(broadcast_deliveries.c.state)
        )
        return Counter(dict(rows.all()))


async def test_ctrl_c_during_broadcast_send_loses_nothing(tmp_path, sqlite_storage, sqlite_url, monkeypatch):
    ids = await add_citizens(sqlite_storage, RECIPIENTS)
    config = write_config(tmp_path, sqlite_url)
    # Slow enough that the interrupt lands mid-broadcast.
    config.write_text(config.read_text(encoding="utf-8").replace("per_second: 200", "per_second: 10"), encoding="utf-8")
    text = tmp_path / "tin.txt"
    text.write_text("Thông báo: lịch tiếp dân thay đổi.\n", encoding="utf-8")

    async with FakeTelegramApi() as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
        monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
        env = dict(os.environ)
        operator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config),
            "broadcast", "send", "--yes", "--text-file", str(text),
            cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await api.wait_for(lambda: len(api.calls_to("sendMessage")) >= INTERRUPT_AFTER, timeout=60)
        operator.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(operator.communicate(), 30)
        taken = {call.chat_id for call in api.calls_to("sendMessage") if call.status == 200}
        assert len(taken) < RECIPIENTS, "the interrupt came after the broadcast had finished"
        assert "Traceback" not in err.decode(), err.decode()[-2000:]

        states = await delivery_states(sqlite_storage)
        assert states["in_flight"] == 0, states  # nothing left claimed by the stopped process
        assert states["sent"] == len(taken), (states, len(taken))  # every message taken is recorded, no more
        assert states["pending"] == RECIPIENTS - len(taken), states

        config.write_text(config.read_text(encoding="utf-8").replace("per_second: 10", "per_second: 200"))
        code, _, err = await troly(config, "broadcast", "deliver")
        assert code == 0, err
        received = Counter(call.chat_id for call in api.calls_to("sendMessage") if call.status == 200)
    assert sorted(received, key=int) == ids  # everyone got it
    assert set(received.values()) == {1}, "someone got it twice"
