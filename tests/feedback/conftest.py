"""Dialogue fixtures (real SQLite storage, scripted NLU, fake knowledge)
shared with tests/flows, plus a PostgreSQL server for the migration test."""

from __future__ import annotations

from tests.flows.conftest import chat, dispatcher, services  # noqa: F401
from tests.postgres import postgres_server_url, postgres_url, storage_url  # noqa: F401
