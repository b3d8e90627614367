"""Statistics for admins: who uses the bot and how it copes.

Computed from the `users` table and the analytics `events` (which hold a
keyed hash of the user, event names and small labels, never message text):
citizens by channel and province, citizens active per day, top intents,
fallback rate (messages the bot could not place), the funnel (guide started
and finished, status checked, certificate delivered), and a chart of these
as a PNG for admins who prefer to look rather than read.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from bot.outreach.stats import FUNNEL
from storage.schema import events, users
from storage.sql import SqlStorage


@dataclass
class UsageStats:
    days: int
    citizens: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_province: dict[str, int] = field(default_factory=dict)  # "?" = not told
    active_per_day: dict[str, int] = field(default_factory=dict)  # ISO date -> citizens active
    top_intents: list[tuple[str, int]] = field(default_factory=list)
    fallbacks: int = 0
    understood: int = 0  # messages routed by intent
    funnel: dict[str, int] = field(default_factory=dict)  # stage -> citizens who reached it

    @property
    def fallback_rate(self) -> float:
        total = self.understood + self.fallbacks
        return round(self.fallbacks / total, 3) if total else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "fallback_rate": self.fallback_rate}


async def usage_stats(storage: SqlStorage, days: int = 14, now: datetime | None = None) -> UsageStats:
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    stats = UsageStats(days=days)
    async with storage.transaction() as conn:
        for column, target in ((users.c.channel, stats.by_channel), (users.c.province_code, stats.by_province)):
            rows = await conn.execute(select(column, func.count()).group_by(column).order_by(func.count().desc()))
            target.update({key or "?": count for key, count in rows.all()})
        recent = (
            await conn.execute(
                select(events.c.user_hash, events.c.name, events.c.props, events.c.at).where(events.c.at >= since)
            )
        ).all()
    stats.citizens = sum(stats.by_channel.values())
    active: dict[date, set[str]] = defaultdict(set)
    intents: Counter[str] = Counter()
    reached: dict[str, set[str]] = defaultdict(set)
    for user_hash, name, props, at in recent:
        active[at.date()].add(user_hash)
        if name == "intent":
            intents[str(props.get("intent", "?"))] += 1
        elif name == "fallback":
            stats.fallbacks += 1
        reached[name].add(user_hash)
    stats.understood = sum(intents.values())
    stats.top_intents = intents.most_common(8)
    first = (now - timedelta(days=days - 1)).date()
    stats.active_per_day = {
        (first + timedelta(days=offset)).isoformat(): len(active.get(first + timedelta(days=offset), ()))
        for offset in range(days)
    }
    stats.funnel = {stage: len(reached.get(event, ())) for stage, event in FUNNEL.items()}
    return stats


def stats_text(stats: UsageStats) -> str:
    """A short bilingual summary for a phone screen."""
    channels = ", ".join(f"{name} {count}" for name, count in stats.by_channel.items()) or "—"
    provinces = ", ".join(f"{code} {count}" for code, count in list(stats.by_province.items())[:5]) or "—"
    intents = ", ".join(f"{name} {count}" for name, count in stats.top_intents[:5]) or "—"
    funnel = " → ".join(str(count) for count in stats.funnel.values())
    last_days = list(stats.active_per_day.values())[-7:]
    return "\n".join([
        f"Người dùng / Citizens: {stats.citizens} ({channels})",
        f"Tỉnh / Provinces: {provinces}",
        f"Hoạt động 7 ngày / Active, last 7 days: {' '.join(map(str, last_days))}",
        f"Ý định hàng đầu / Top intents ({stats.days} ngày/days): {intents}",
        f"Không hiểu / Fallback rate: {stats.fallback_rate:.0%} ({stats.fallbacks})",
        f"Hướng dẫn bắt đầu → xong → tra cứu → nhận phiếu / Funnel: {funnel}",
    ])  # fmt: skip


def stats_chart(stats: UsageStats) -> bytes:
    """Four panels as one PNG: activity per day, channels, top intents, funnel."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    figure, axes = pyplot.subplots(2, 2, figsize=(10, 7), dpi=100)
    try:
        days = list(stats.active_per_day)
        axes[0][0].bar([day[5:] for day in days], list(stats.active_per_day.values()), color="#12315c")
        axes[0][0].set_title("Người dùng hoạt động / Active citizens per day")
        axes[0][0].tick_params(axis="x", labelrotation=60, labelsize=7)
        axes[0][1].bar(list(stats.by_channel), list(stats.by_channel.values()), color="#3d6fb4")
        axes[0][1].set_title("Theo kênh / By channel")
        names = [name for name, _ in stats.top_intents][::-1]
        axes[1][0].barh(names, [count for _, count in stats.top_intents][::-1], color="#5b8c5a")
        axes[1][0].set_title(f"Ý định / Top intents · fallback {stats.fallback_rate:.0%}")
        axes[1][0].tick_params(axis="y", labelsize=8)
        stages = ["HD bắt đầu\nguide started", "HD xong\nguide done", "Tra cứu\nstatus", "Nhận phiếu\ncertificate"]
        axes[1][1].bar(stages, list(stats.funnel.values()), color="#b3261e")
        axes[1][1].set_title("Hành trình / Funnel")
        axes[1][1].tick_params(axis="x", labelsize=7)
        for axis in (axes[0][0].yaxis, axes[0][1].yaxis, axes[1][0].xaxis, axes[1][1].yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))  # counts of people
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        pyplot.close(figure)
