"""Safety: the bot never asks for a VNeID password, passcode or OTP. A message
that looks like one gets a warning and goes no further (not to the NLU, not
into storage or logs). Messages about installing VNeID or following links get
a warning about fake apps.

```mermaid
stateDiagram-v2
    [*] --> WARN_SECRET: looks like a password / passcode / OTP
    WARN_SECRET --> [*]: the conversation stays where it was
    [*] --> WARN_FAKE_APP: asks about installing / links / APK
    WARN_FAKE_APP --> [*]: warning added to the normal answer
```
"""

from __future__ import annotations

import re

from core.textkey import fold_diacritics

_SECRET_WORDS = re.compile(
    r"\b(mat khau|mk|password|pass|passcode|pass code|ma otp|otp|ma xac thuc|ma xac nhan|ma pin|pin)\b"
)
_TOKEN_WITH_DIGIT = re.compile(r"(?=\S*\d)\S{4,}")
_BARE_CODE = re.compile(r"^\s*\d{6}\s*$")  # VNeID passcodes and OTPs are 6 digits
# Installing VNeID, with or without "app" / "ung dung" between ("tai app vneid"), or a link to it.
_FAKE_APP = re.compile(
    r"\b(apk|(?:tai|tai ve|cai|cai dat|download|install)(?: the| app| ung dung)? vneid|link(?: tai| cai)? vneid)\b"
)


def looks_like_secret(text: str) -> bool:
    """A 6-digit code on its own, or a password/OTP word next to something
    that could be the secret itself ("mật khẩu Abc12345", "OTP 482910")."""
    if _BARE_CODE.match(text):
        return True
    folded = fold_diacritics(text).lower()
    if not _SECRET_WORDS.search(folded):
        return False
    rest = _SECRET_WORDS.sub(" ", folded)
    return bool(_TOKEN_WITH_DIGIT.search(rest))


def mentions_app_install(text: str) -> bool:
    return bool(_FAKE_APP.search(fold_diacritics(text).lower()))
