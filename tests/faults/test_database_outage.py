"""PostgreSQL briefly unavailable (stopped and started again, as in a
restart or fail-over) while a citizen writes: the message is retried and
answered, and no step of the conversation is lost."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.messages import Inbound, InboundKind
from tests.faults.test_backend_faults import CODE, LAN_ID
from tests.postgres import ThrowawayPostgres, _unavailable, postgres_bindir


class RestartablePostgres(ThrowawayPostgres):
    """A throwaway cluster of its own, so stopping it disturbs no other test."""

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), *args, "-D", str(self.data), "-w", "-t", "30")

    def go_down(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def come_back(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("start", "-l", str(self.root / "server.log"), "-o", options)


@pytest.fixture
def restartable_postgres():
    bindir = postgres_bindir()
    if bindir is None:
        _unavailable("PostgreSQL binaries not found (install Debian's postgresql)")
    server = RestartablePostgres(bindir)
    url = server.start()
    yield server, url
    server.stop()


def says(user_id: str, text: str = "", payload: str = "") -> Inbound:
    kind = InboundKind.BUTTON if payload else InboundKind.TEXT
    return Inbound("web", user_id, user_id, kind=kind, text=text, payload=payload, locale="vi")


async def test_message_sent_while_database_restarts_is_answered_and_nothing_is_lost(
    restartable_postgres, mock_backend, bot_on, caplog
):
    server, url = restartable_postgres
    bot = await bot_on(url, mock_backend.url)
    await bot.handle(says("lan", payload="menu:open:status"))

    await asyncio.to_thread(server.go_down)
    answer = asyncio.create_task(bot.handle(says("lan", CODE)))  # written while the database is down

    async def retried() -> None:
        while not any("database unavailable" in record.getMessage() for record in caplog.records):
            await asyncio.wait({answer}, timeout=0.05)
            assert not answer.done(), "the message failed instead of waiting for the database"

    with caplog.at_level(logging.WARNING, logger="bot.resilience"):
        await asyncio.wait_for(retried(), 15)  # a retry was logged: waiting and retrying, not failing
    assert not answer.done()
    await asyncio.to_thread(server.come_back)
    replies = await asyncio.wait_for(answer, 15)

    asked_for_proof = "\n".join(reply.text for reply in replies)
    assert CODE in asked_for_proof  # the bot took the code and asks for the proof
    saved = await bot.storage.load_conversation("web", "lan")
    assert (saved.flow, saved.data["flow_data"].get("code")) == ("status", CODE)  # the step was saved
    shown = "\n".join(reply.text for reply in await bot.handle(says("lan", LAN_ID)))
    assert "Tình trạng:" in shown and CODE in shown  # and the conversation carries on from it


async def test_a_database_outage_longer_than_the_retries_gets_a_clear_failure_not_a_hang(
    restartable_postgres, mock_backend, bot_on
):
    server, url = restartable_postgres
    bot = await bot_on(url, mock_backend.url)
    await bot.handle(says("minh", payload="menu:open:status"))
    await asyncio.to_thread(server.go_down)
    try:
        with pytest.raises(Exception) as caught:
            await asyncio.wait_for(bot.handle(says("minh", CODE)), 30)
        assert not isinstance(caught.value, TimeoutError)  # the channel then apologises to the citizen
    finally:
        await asyncio.to_thread(server.come_back)
