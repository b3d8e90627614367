"""The rows admins' statistics are computed from (`bot.usage_stats`,
`bot.outreach.stats`): citizens from the `users` table, and the analytics
events, which name a user only by keyed hash and never hold message text."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.schema import events, users
from storage.sql import SqlStorage


@dataclass
class UsageRows:
    by_channel: list[tuple[str, int]] = field(default_factory=list)  # most citizens first
    by_province: list[tuple[str | None, int]] = field(default_factory=list)  # None: not told
    events: list[tuple[str, str, dict[str, Any], datetime]] = field(default_factory=list)  # user_hash, name, props, at


async def usage_rows(storage: SqlStorage, since: datetime) -> UsageRows:
    """Citizens per channel and per province, and the events since `since`."""
    found = UsageRows()
    async with storage.transaction() as conn:
        for column, target in ((users.c.channel, found.by_channel), (users.c.province_code, found.by_province)):
            rows = await conn.execute(select(column, func.count()).group_by(column).order_by(func.count().desc()))
            target.extend((key, count) for key, count in rows.all())
        recent = await conn.execute(
            select(events.c.user_hash, events.c.name, events.c.props, events.c.at).where(events.c.at >= since)
        )
        found.events = [(user_hash, name, props, at) for user_hash, name, props, at in recent.all()]
    return found


async def outreach_rows(
    storage: SqlStorage, stage_events: Collection[str]
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """The citizens who came from a poster (channel, user_id, source) and
    which of `stage_events` each user reached (user_hash, event name)."""
    async with storage.transaction() as conn:
        from_posters = select(users.c.channel, users.c.user_id, users.c.source).where(users.c.source.is_not(None))
        people = (await conn.execute(from_posters)).all()
        progress = select(events.c.user_hash, events.c.name).where(events.c.name.in_(set(stage_events)))
        reached = (await conn.execute(progress.distinct())).all()
    return (
        [(channel, user_id, source) for channel, user_id, source in people],
        [(user_hash, name) for user_hash, name in reached],
    )
