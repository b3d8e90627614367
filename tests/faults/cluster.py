"""Real `troly run --worker` processes on loopback, for fault tests and
bench/load.py: a config file, the shared secrets, start, find the port,
SIGKILL or stop.

Each worker serves the Telegram webhook (TELEGRAM_BASE_URL points at a
`FakeTelegramApi`), uses the mock backend at `backend_url` and shares the
PostgreSQL database at `storage_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_SECRET = "test-webhook-secret-shared-by-workers"
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def write_worker_config(
    directory: Path,
    storage_url: str,
    backend_url: str,
    webhook_reply_seconds: float | None = None,
    extra: str = "",
    backend_timeout: float = 1.0,
) -> Path:
    """A config.yml every worker of one deployment shares
    (`webhook_reply_seconds`: config.yml's default when None; `extra`: more YAML sections)."""
    directory.mkdir(parents=True, exist_ok=True)
    # Telegram would call the public HTTPS address; tests post to each worker directly.
    telegram = f"telegram:\n  webhook_url: https://bot.example.test{WEBHOOK_PATH}\n"
    if webhook_reply_seconds is not None:
        telegram += f"  webhook_reply_seconds: {webhook_reply_seconds}\n"
    config = directory / "config.yml"
    config.write_text(
        "web:\n  host: 127.0.0.1\n"
        f"storage:\n  url: {storage_url}\n"
        f"backend:\n  url: {backend_url}\n  timeout_seconds: {backend_timeout}\n"
        f"{telegram}"
        f"media:\n  directory: {directory / 'media'}\n"
        f"{extra}",
        encoding="utf-8",
    )
    return config


def worker_environment(telegram_token: str, telegram_base_url: str) -> dict[str, str]:
    """The secrets every worker must share (docs/deploy.md)."""
    env = dict(os.environ)
    env.update(
        TELEGRAM_BOT_TOKEN=telegram_token,
        TELEGRAM_BASE_URL=telegram_base_url,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TROLY_MEDIA_SECRET="test-media-secret-shared-by-workers",
        TROLY_BACKEND_WEBHOOK_SECRET="test-backend-webhook-secret",
        TROLY_PSEUDONYM_SALT="test-pseudonym-salt-shared-by-workers",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Worker:
    """One `troly run --worker` process."""

    process: subprocess.Popen
    log_path: Path
    port: int = 0
    output: list[str] = field(default_factory=list)

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or OOM killer strikes."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(config: Path, env: dict[str, str], log_path: Path, timeout: float = 60.0) -> Worker:
    """Start a worker and wait until it serves webhooks; its output goes to `log_path`."""
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - the child writes it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "--config",
            str(config),
            "run",
            "--worker",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    worker = Worker(process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _LISTENING.search(worker.log_text())
        if found:
            worker.port = int(found[1])
            if _healthy(worker.port):
                return worker
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited ({process.returncode}):\n{worker.log_text()[-3000:]}")
        time.sleep(0.1)
    worker.kill()
    raise RuntimeError(f"the worker did not start in {timeout} s:\n{worker.log_text()[-3000:]}")


def _healthy(port: int) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("ok") is True


@contextlib.asynccontextmanager
async def running_workers(config: Path, env: dict[str, str], logs: Path, count: int = 2) -> AsyncIterator[list[Worker]]:
    """`count` workers started side by side (logs in `logs`), stopped at the end."""
    workers = await asyncio.gather(
        *(asyncio.to_thread(start_worker, config, env, logs / f"worker-{n}.log") for n in range(count))
    )
    try:
        yield list(workers)
    finally:
        for worker in workers:
            await asyncio.to_thread(worker.stop)
