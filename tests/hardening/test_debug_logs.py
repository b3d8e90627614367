"""Issue 20, finding 6: `troly -v` (every logger at DEBUG) writes no secret:
not the Telegram bot token from python-telegram-bot's own debug lines, nor
OAuth tokens from the SQL statements that store them (SQLAlchemy's statement
log, aiosqlite's "executing ..." lines)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot

from bot.channels.telegram.logs import hide_token_in_logs
from storage.oa_tokens import OaTokenStore, TokenPair
from storage.sql import SqlStorage
from tests.postgres import postgres_server_url, postgres_url, storage_url  # noqa: F401  (fixtures)

TOKEN = "123456789:AAH-debug-line-token-must-not-be-logged"


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)  # as `troly -v`: the root logger at DEBUG
    yield caplog
    logging.getLogger().setLevel(logging.WARNING)


def logged(caplog) -> str:
    return "\n".join(f"{record.name} {record.getMessage()}" for record in caplog.records)


async def test_the_telegram_token_is_not_in_python_telegram_bots_debug_lines(debug_logs):
    hide_token_in_logs(TOKEN)  # what TelegramChannel does before it makes its Bot
    Bot(TOKEN)
    assert "Set Bot API URL" in logged(debug_logs)
    assert TOKEN.split(":", 1)[1] not in logged(debug_logs)


async def test_oauth_tokens_are_not_in_the_sql_debug_lines(debug_logs, storage_url):
    storage = SqlStorage(storage_url)
    await storage.init()
    try:
        now = datetime.now(UTC)
        pair = TokenPair("access-SECRET-1a2b3c", now + timedelta(hours=1), "refresh-SECRET-4d5e6f", now)
        store = OaTokenStore(storage, "oa")
        await store.seed(pair)
        assert await store.load() is not None
    finally:
        await storage.close()
    text = logged(debug_logs)
    if storage_url.startswith("sqlite"):
        assert "executing" in text, "aiosqlite's calls were logged"
    assert "SECRET" not in text
