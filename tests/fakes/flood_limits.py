"""Platforms' flood limits as the loopback fakes enforce them: at most
`overall_per_second` messages in any second, and to one chat at most
`per_chat_burst` in any `per_chat_burst / per_chat_per_second` seconds
(Telegram tolerates short bursts in private chats). Past them the fake
answers 429 with a `retry_after`."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimits:
    overall_per_second: int = 30
    per_chat_per_second: int = 1
    per_chat_burst: int = 1


class FloodGate:
    """Counts the messages a fake accepts, per bot and per chat."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._sent_at: deque[float] = deque()
        self._sent_at_chat: dict[str, deque[float]] = defaultdict(deque)

    def admit(self, chat: str, now: float) -> int | None:
        """Count a message to `chat` at `now`; or the seconds to wait (a 429), not counted."""
        limits = self.limits
        chat_span = limits.per_chat_burst / limits.per_chat_per_second
        windows = [(self._sent_at, limits.overall_per_second, 1.0)]
        windows.append((self._sent_at_chat[chat], limits.per_chat_burst, chat_span))
        for window, _, span in windows:
            while window and now - window[0] >= span:
                window.popleft()
        for window, limit, span in windows:
            if len(window) >= limit:
                return max(1, math.ceil(span - (now - window[0])))
        for window, _, _ in windows:
            window.append(now)
        return None
