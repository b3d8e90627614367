"""The composition root: the one place that turns `Settings` into components.

Lower layers never read the configuration; each factory here reads its
section and hands plain values down (a storage URL, an NLU model directory,
the mock backend's own `MockSettings`)."""

from __future__ import annotations

from pathlib import Path

from backend.keys import ADMIN_TOKEN_ENV, SIGNING_KEY_ENV, WEBHOOK_SECRET_ENV
from backend.runner import RunningServer, start_server
from backend.server import create_app
from backend.settings import FaultSettings, MockSettings, path_or_memory
from bot.config import BackendSettings, Settings
from core.paths import PROJECT_ROOT, var_dir
from core.secrets import load_or_create_secret, secret
from nlu import Interpreter, load_interpreter
from storage.sql import SqlStorage
from storage.urls import resolve_url

PSEUDONYM_SALT_ENV = "TROLY_PSEUDONYM_SALT"


def storage_from_settings(settings: Settings) -> SqlStorage:
    """A `SqlStorage` for `settings.storage.url`, not yet initialised.

    The pseudonym salt (analytics and erased-audit hashes) comes from the
    `TROLY_PSEUDONYM_SALT` environment variable when set; otherwise the
    database keeps a random one of its own.
    """
    return SqlStorage(resolve_url(settings.storage.url, PROJECT_ROOT), pseudonym_salt=secret(PSEUDONYM_SALT_ENV))


async def open_storage(settings: Settings) -> SqlStorage:
    """A migrated, connected storage; call `await storage.close()` at exit."""
    storage = storage_from_settings(settings)
    await storage.init()
    return storage


def interpreter_from_settings(settings: Settings) -> Interpreter:
    """The configured NLU (see `nlu.load_interpreter`)."""
    config = settings.nlu
    return load_interpreter(
        backend=config.backend,
        rasa_url=config.rasa_url,
        data=settings.path(config.data),
        model_dir=settings.path(config.model_dir),
        threshold=config.threshold,
        ambiguity_threshold=config.ambiguity_threshold,
    )


def backend_webhook_secret() -> bytes:
    """The secret the backend signs its status events with."""
    return load_or_create_secret(WEBHOOK_SECRET_ENV, var_dir(PROJECT_ROOT) / "backend-webhook.key")


def admin_token_file(root: Path | None = None) -> Path:
    """Where the mock's generated admin token is kept when
    `TROLY_BACKEND_ADMIN_TOKEN` is not set (owner-readable only)."""
    return var_dir(root or PROJECT_ROOT) / "backend-admin.key"


def mock_admin_token(root: Path | None = None) -> str:
    """The mock's admin token: `TROLY_BACKEND_ADMIN_TOKEN`, else the one kept
    in `admin_token_file` (generated on first use). `troly demo` reads it too."""
    return load_or_create_secret(ADMIN_TOKEN_ENV, admin_token_file(root)).decode("utf-8")


def admin_token_notice(root: Path | None = None) -> str:
    """Where the admin token comes from, for the start-up banner (never the token)."""
    if secret(ADMIN_TOKEN_ENV):
        return f"  admin token (/admin): from ${ADMIN_TOKEN_ENV}"
    return f"  admin token (/admin): in {admin_token_file(root)}"


def mock_settings_from_config(backend: BackendSettings, root: Path, database: str | None = None) -> MockSettings:
    """The mock's own `MockSettings` from the `backend` section plus the secrets."""
    var = var_dir(root)
    return MockSettings(
        database=path_or_memory(database or backend.mock_database, root),
        public_url=backend.mock_public_url,
        clock_speed=backend.clock_speed,
        token_ttl_days=backend.token_ttl_days,
        webhook_url=backend.webhook_url,
        webhook_max_attempts=backend.webhook_max_attempts,
        webhook_backoff_seconds=backend.webhook_backoff_seconds,
        signing_key=load_or_create_secret(SIGNING_KEY_ENV, var / "backend-signing.key"),
        webhook_secret=load_or_create_secret(WEBHOOK_SECRET_ENV, var / "backend-webhook.key"),
        admin_token=mock_admin_token(root),
        demo_mode=backend.mock_demo_mode,
        faults=FaultSettings(
            backend.faults.latency_ms, backend.faults.error_rate, backend.faults.timeout_rate, backend.faults.down
        ),
    )


async def start_mock_backend(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    webhook_url: str | None = None,
) -> RunningServer:
    """Start the mock (what `troly backend` and `troly run` call). `webhook_url`
    overrides backend.webhook_url, e.g. the bot's own `<public_base_url>/hooks/backend`."""
    mock = mock_settings_from_config(settings.backend, PROJECT_ROOT, database)
    if webhook_url is not None and not settings.backend.webhook_url:
        mock.webhook_url = webhook_url
    return await start_server(
        create_app(mock),
        host or settings.backend.mock_host,
        settings.backend.mock_port if port is None else port,
    )
