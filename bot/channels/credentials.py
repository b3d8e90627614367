"""A channel's credentials kept safe: the bot token out of the request logs,
a webhook secret derived from the token when none is configured, and a
webhook request's secret checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re


class _RedactInLogs(logging.Filter):
    """Rewrites a record's message so that what `pattern` matches reads `placeholder`."""

    def __init__(self, pattern: str, placeholder: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)
        self.placeholder = placeholder

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.pattern.sub(self.placeholder, message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def hide_in_request_logs(pattern: str, placeholder: str, loggers: tuple[str, ...] = ("httpx",)) -> None:
    """httpx logs every request URL at INFO, and Bot API URLs hold the bot
    token: log `placeholder` where `pattern` matches instead (installed once
    per pattern), on httpx's logger and any other of `loggers`."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(item, _RedactInLogs) and item.pattern.pattern == pattern for item in logger.filters):
            logger.addFilter(_RedactInLogs(pattern, placeholder))


def webhook_secret_from_token(token: str, label: bytes, length: int = 64) -> str:
    """A stable webhook secret for when none is configured: derived from the
    token, so it survives restarts, only someone who knows the token can
    compute it, and it reveals nothing about it (hex: allowed everywhere)."""
    return hmac.new(token.encode(), label, hashlib.sha256).hexdigest()[:length]


def same_secret(given: str, expected: str) -> bool:
    """Whether a request carries the expected secret, compared in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())
