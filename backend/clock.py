"""The simulated clock: simulated time runs `speed` times faster than real
time, and a demo can jump it forward. Persisted, so a restart keeps it."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

from backend.store import get_setting, put_setting


class SimulatedClock:
    def __init__(
        self, db: sqlite3.Connection | None, speed: float = 1.0, start: datetime | None = None, real_time=time.time
    ) -> None:
        self._db = db
        self._real_time = real_time
        saved = self._load()
        if saved is not None:
            self._anchor_real, self._anchor_sim, self.speed = saved
        else:
            self._anchor_real = real_time()
            self._anchor_sim = (start or datetime.now(UTC)).timestamp()
            self.speed = speed
            self._save()

    def now(self) -> datetime:
        elapsed = self._real_time() - self._anchor_real
        return datetime.fromtimestamp(self._anchor_sim + elapsed * self.speed, UTC)

    def advance(self, delta: timedelta) -> datetime:
        """Jump the whole clock forward."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._reanchor(self.now() + delta)
        return self.now()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._reanchor(self.now())
        self.speed = speed
        self._save()

    def _reanchor(self, sim_now: datetime) -> None:
        self._anchor_real = self._real_time()
        self._anchor_sim = sim_now.timestamp()
        self._save()

    def _load(self) -> tuple[float, float, float] | None:
        raw = get_setting(self._db, "clock") if self._db is not None else None
        if not raw:
            return None
        real, sim, speed = (float(part) for part in raw.split(","))
        return real, sim, speed

    def _save(self) -> None:
        if self._db is not None:
            put_setting(self._db, "clock", f"{self._anchor_real},{self._anchor_sim},{self.speed}")


def iso_utc(moment: datetime) -> str:
    """`moment` as the API writes times: ISO 8601 in UTC, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
