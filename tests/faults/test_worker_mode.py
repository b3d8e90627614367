"""`troly run --worker` refuses settings it cannot share with other workers,
and its singleton jobs run in one worker at a time."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import Runtime
from bot.workers import LeaderJob
from storage.sql import SqlStorage
from tests.faults.conftest import bot_settings


async def test_a_worker_without_a_backend_url_refuses_to_start(tmp_path, postgres_url):
    runtime = Runtime(bot_settings(tmp_path, postgres_url, ""), worker=True)
    with pytest.raises(RuntimeError, match="backend.url"):
        await runtime.start(start_channels=False)


async def test_a_worker_on_sqlite_refuses_to_start(tmp_path):
    runtime = Runtime(
        bot_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}", "http://127.0.0.1:9"), worker=True
    )
    with pytest.raises(RuntimeError, match="PostgreSQL"):
        await runtime.start(start_channels=False)


async def test_a_leader_job_runs_in_one_worker_and_another_takes_over_when_it_stops(postgres_url):
    storages = [SqlStorage(postgres_url) for _ in range(2)]
    runs: list[int] = []
    ran_five_times = asyncio.Event()  # waited for, with a deadline, instead of a fixed sleep
    jobs, stops, tasks = [], [], []
    for number, storage in enumerate(storages):
        await storage.init()

        async def job(number=number) -> None:
            runs.append(number)
            if len(runs) >= 5:
                ran_five_times.set()

        jobs.append(LeaderJob(storage, "test", job, every=0.05, retry_seconds=0.1))
        stops.append(asyncio.Event())
        tasks.append(asyncio.create_task(jobs[-1].run(stops[-1])))
    try:
        await asyncio.wait_for(ran_five_times.wait(), 10)
        assert [job.is_leader for job in jobs].count(True) == 1  # one leader at a time
        leader = next(n for n, job in enumerate(jobs) if job.is_leader)
        assert set(runs) == {leader}

        stops[leader].set()  # the leader's worker shuts down
        await tasks[leader]
        runs.clear()
        ran_five_times.clear()
        await asyncio.wait_for(ran_five_times.wait(), 10)
        assert jobs[1 - leader].is_leader and set(runs) == {1 - leader}
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)
        for storage in storages:
            await storage.close()


@pytest.mark.parametrize(
    ("channel", "environment"),
    [
        ("telegram", {"TELEGRAM_BOT_TOKEN": "123456:test-token", "TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot"}),
        ("zalo_bot", {"ZALO_BOT_TOKEN": "123456:test-token", "ZALO_BOT_BASE_URL": "http://127.0.0.1:9"}),
    ],
)
async def test_a_worker_refuses_a_channel_that_would_receive_by_polling(
    tmp_path, postgres_url, monkeypatch, channel, environment
):
    """Several workers polling one bot would compete for its updates: a
    worker whose channel has no webhook_url refuses to start, naming it."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    runtime = Runtime(bot_settings(tmp_path, postgres_url, "http://127.0.0.1:9"), worker=True)
    assert channel in [configured.name for configured in runtime.channels]
    with pytest.raises(RuntimeError, match=f"webhook only.*{channel}"):
        await runtime.start()
    assert runtime.dispatcher is None  # refused before anything started
