"""Wrong ownership proofs, counted per request code and per client address:
past the limit within the window, every lookup of that code (or from that
client) is refused with 429 until the window has passed, even one with the
right proof, so guessing the last four digits (10,000 values with a known
birth date) gets nowhere.

The per-client count leaves out loopback: that is the bot itself (the mock
runs in its process, or beside it), whose lookups for every citizen come
from one address and which limits them per user and per code on its own;
with `--lan`, others come from their own addresses. Only the per-code
limit applies to loopback.

In memory, per running mock: the citizen API's guard, not a record. The
clock is real time (`time.monotonic`), not the simulated one, which may run
fast; tests replace `now`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.errors import ApiError

# Kept per key; more keys than this drops the oldest (memory stays bounded).
MAX_KEYS = 100_000
LOOPBACK = frozenset({"127.0.0.1", "::1"})


@dataclass
class ProofThrottle:
    per_code: int = 5
    per_client: int = 20
    window_seconds: float = 15 * 60
    now: Callable[[], float] = time.monotonic
    uncounted_clients: frozenset[str] = LOOPBACK
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def check(self, code: str, client: str) -> None:
        """Raise the 429 `ApiError` when `code` or `client` is locked out."""
        wait = max(self._wait(key, limit) for key, limit in self._keys(code, client))
        if wait > 0:
            minutes = max(1, math.ceil(wait / 60))
            raise TooManyAttempts(wait, minutes)

    def failed(self, code: str, client: str) -> None:
        """Count one wrong proof (or unknown code) against both keys."""
        for key, _limit in self._keys(code, client):
            times = self._failures.pop(key, None) or deque()
            times.append(self.now())
            self._failures[key] = times  # re-inserted: the dict stays oldest first
        while len(self._failures) > MAX_KEYS:
            self._failures.pop(next(iter(self._failures)))

    def _keys(self, code: str, client: str) -> list[tuple[str, int]]:
        keys = [(f"code:{code}", self.per_code)]
        if client not in self.uncounted_clients:
            keys.append((f"client:{client}", self.per_client))
        return keys

    def _wait(self, key: str, limit: int) -> float:
        """Seconds until `key` may try again (0: it may now)."""
        times = self._failures.get(key)
        if not times:
            return 0.0
        now = self.now()
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.window_seconds - now


class TooManyAttempts(ApiError):
    def __init__(self, retry_after: float, minutes: int) -> None:
        super().__init__(
            429,
            "too_many_attempts",
            f"Đã nhập sai thông tin xác minh quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
            f"Too many wrong proofs of ownership. Please try again in {minutes} minutes.",
        )
        self.retry_after = retry_after
