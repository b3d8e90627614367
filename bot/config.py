"""Configuration: `config.yml` (documented keys) validated at start, plus
secrets from environment variables only.

Each section is its own model; a wrong key or value stops the start with an
error naming the key, e.g. `config.yml: web.port: Input should be a valid
integer`. Unknown keys are errors too, so a typo never passes silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # The address citizens' phones and platforms use to reach us (media links,
    # webhooks). Empty: http://<host>:<port>.
    public_base_url: str = ""


class StorageSettings(Section):
    url: str = "sqlite+aiosqlite:///var/troly.sqlite3"


class NluSettings(Section):
    backend: Literal["embedded", "rasa"] = "embedded"
    rasa_url: str = "http://127.0.0.1:5005"
    data: str = "nlu/data/nlu.yml"
    model_dir: str = "var/nlu-model"
    threshold: float = Field(0.45, ge=0.0, le=1.0)
    ambiguity_threshold: float = Field(0.08, ge=0.0, le=1.0)


class BackendSettings(Section):
    # Where the bot reaches the government service. Empty: start the mock
    # service in-process and use it (the offline demo).
    url: str = ""
    mock_host: str = "127.0.0.1"
    mock_port: int = Field(8090, ge=1, le=65535)
    mock_database: str = "var/mock-backend.sqlite3"
    timeout_seconds: float = Field(3.0, gt=0)


class TelegramSettings(Section):
    webhook_url: str = ""  # empty: long polling


class Settings(Section):
    web: WebSettings = WebSettings()
    storage: StorageSettings = StorageSettings()
    nlu: NluSettings = NluSettings()
    backend: BackendSettings = BackendSettings()
    telegram: TelegramSettings = TelegramSettings()

    def path(self, relative: str) -> Path:
        """A configured path, relative to the project root unless absolute."""
        path = Path(relative)
        return path if path.is_absolute() else PROJECT_ROOT / path


class ConfigError(Exception):
    pass


def load_settings(path: Path | str | None = None) -> Settings:
    path = Path(path) if path else Path(os.environ.get("TROLY_CONFIG", DEFAULT_CONFIG))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    try:
        return Settings.model_validate(raw or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"{path.name}: {problems}") from error


def secret(name: str) -> str | None:
    """A secret from the environment; secrets never live in config.yml."""
    value = os.environ.get(name, "").strip()
    return value or None
