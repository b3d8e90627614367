"""Zalo OA's reply window: how long after a user's last interaction the OA
may write to them first (free, then paid, then not at all until they write
again), and the error for a message outside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.channels.base import DeliveryError


class Window(StrEnum):
    FREE = "free"
    PAID = "paid"
    CLOSED = "closed"


@dataclass(frozen=True)
class ReplyWindowPolicy:
    """How long after a user's last interaction the OA may write first."""

    free: timedelta = timedelta(hours=48)
    paid: timedelta = timedelta(days=7)
    send_paid: bool = False  # the agency pays for messages in the paid window

    def classify(self, last_interaction: datetime | None, now: datetime) -> Window:
        if last_interaction is None:
            return Window.CLOSED
        age = now - last_interaction
        if age <= self.free:
            return Window.FREE
        if age <= self.paid:
            return Window.PAID
        return Window.CLOSED


class ReplyWindowClosed(DeliveryError):
    """The user has not written for too long (or the agency does not pay for
    messages in the paid window): do not send until they write again."""

    def __init__(self, window: Window) -> None:
        super().__init__(f"outside the reply window ({window})")
        self.window = window
