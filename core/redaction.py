"""Masking personal data (PDPL 91/2025/QH15), one rule set per destination:

- `mask_numbers`: what an officer or a log may see of a citizen's words; digit
  runs long enough to be an id, phone or card number become `***`;
- `mask_question`: what is kept of an unanswered question for admins; also
  request codes, e-mail addresses and tokens with many digits;
- `scrub_props`: analytics properties; identifying keys and numbers of 9 or
  more digits (phones, căn cước numbers, platform ids) become `[redacted]`,
  while dates and amounts stay readable.
"""

from __future__ import annotations

import re
from typing import Any

from core.codes import TYPED_REQUEST_CODE

MASK = "***"
REDACTED = "[redacted]"
MAX_QUESTION_LENGTH = 300

_LONG_NUMBER = re.compile(r"\d(?:[\s.\-]?\d){5,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Whatever digits remain beside letters (H79-2611150007, 0912xxx): more
# than four digits in a token is never needed to understand a question.
_DIGITS_IN_TOKEN = re.compile(r"\S*\d(?:\S*\d){4,}\S*")
_SPACES = re.compile(r"\s+")
_ANALYTICS_NUMBER = re.compile(r"\d(?:[ .]?\d){8,}")
_PII_KEYS = {"user_id", "chat_id", "phone", "id_number", "cccd", "password", "otp", "token"}


def mask_numbers(text: str) -> str:
    """Hide digit runs long enough to be id, phone or card numbers."""
    return _LONG_NUMBER.sub(MASK, text)


def mask_question(text: str) -> str:
    """The question as it may be kept: personal numbers, codes and e-mail
    addresses masked, whitespace collapsed, at most `MAX_QUESTION_LENGTH` characters."""
    masked = _EMAIL.sub(MASK, text)
    masked = TYPED_REQUEST_CODE.sub(MASK, masked)
    masked = mask_numbers(masked)
    masked = _DIGITS_IN_TOKEN.sub(MASK, masked)
    masked = _SPACES.sub(" ", masked).strip()
    return masked[:MAX_QUESTION_LENGTH].rstrip()


def scrub_props(value: Any) -> Any:
    """Analytics properties without personal numbers or identifying keys."""
    if isinstance(value, dict):
        return {key: REDACTED if key in _PII_KEYS else scrub_props(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_props(item) for item in value]
    if isinstance(value, str):
        return _ANALYTICS_NUMBER.sub(REDACTED, value)
    return value
