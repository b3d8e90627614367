"""The mock service's settings: what to run with (database, clock, secrets,
webhooks) and the faults to inject. Built by the bot's composition root from
its configuration, or directly in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.paths import project_path


@dataclass
class FaultSettings:
    """Faults applied to the citizen-facing API (/api/...)."""

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    down: bool = False


@dataclass
class MockSettings:
    """Everything the mock needs."""

    database: str = ":memory:"
    public_url: str = ""  # empty: the bound address (see runner.start_server)
    clock_speed: float = 1.0
    clock_start: datetime | None = None
    token_ttl_days: int = 365
    webhook_url: str = ""
    webhook_max_attempts: int = 6
    webhook_backoff_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    tick_seconds: float = 1.0
    hang_seconds: float = 30.0
    signing_key: bytes = b""
    webhook_secret: bytes = b""
    admin_token: str | None = None
    seed_demo: bool = True
    # The unauthenticated simulation endpoints (filing a request, the unsigned
    # payment callback, the form simulator) answer only in demo mode.
    demo_mode: bool = False
    faults: FaultSettings = field(default_factory=FaultSettings)


def path_or_memory(path: str, root: Path) -> str:
    """`:memory:` as is; a relative database path taken from `root`."""
    if path == ":memory:":
        return path
    return str(project_path(path, root))
