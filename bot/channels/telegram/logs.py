"""Keeping secrets out of the logs that Telegram traffic writes: httpx logs
every request URL, which holds the bot token, and python-telegram-bot logs
every Bot API call with its parameters and result."""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from bot.channels.credentials import hide_in_request_logs

BOT_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot")


class _HideBotApiContent(logging.Filter):
    """python-telegram-bot logs, at DEBUG, every Bot API call with its
    parameters and result: the citizens' messages and ours, with request
    codes, id and phone numbers and signed links; and, at CRITICAL, a batch
    of updates it could not read, whole. Keep the endpoint only."""

    SUMMARIES: ClassVar[dict[str, tuple[str, int]]] = {  # message -> (summary, arguments kept)
        "Calling Bot API endpoint `%s` with parameters `%s`": ("Calling Bot API endpoint `%s`", 1),
        "Call to Bot API endpoint `%s` finished with return value `%s`": ("Call to Bot API endpoint `%s` finished", 1),
        "Error while parsing updates! Received data was %r": ("Error while parsing updates (data not logged)", 0),
    }

    def filter(self, record: logging.LogRecord) -> bool:
        summary = self.SUMMARIES.get(record.msg) if isinstance(record.msg, str) else None
        if summary is not None and isinstance(record.args, tuple) and record.args:
            record.msg, record.args = summary[0], record.args[: summary[1]]
        return True


def hide_token_in_logs(token: str) -> None:
    """Install the filters (once per token) on the loggers that would show it."""
    # The Bot logs its API URLs, token included, at DEBUG when it is made.
    hide_in_request_logs(re.escape(token), "<TELEGRAM_BOT_TOKEN>", ("httpx", *BOT_LOGGERS))
    for name in BOT_LOGGERS:
        bot_logger = logging.getLogger(name)
        if not any(isinstance(item, _HideBotApiContent) for item in bot_logger.filters):
            bot_logger.addFilter(_HideBotApiContent())
