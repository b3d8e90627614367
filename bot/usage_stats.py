"""Statistics for admins: who uses the bot and how it copes.

Computed from the `users` table and the analytics `events` (which hold a
keyed hash of the user, event names and small labels, never message text):
citizens by channel and province, citizens active per day, top intents,
fallback rate (messages the bot could not place), the funnel (guide started
and finished, status checked, certificate delivered), citizens' ratings of
answers (👍 / 👎 per topic), and a chart of these as a PNG for admins who
prefer to look rather than read. The questions the bot could not answer
(masked, counted; `storage.feedback`) come from their own table.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.outreach.stats import FUNNEL
from storage.feedback import FeedbackStore, UnansweredQuestion
from storage.sql import SqlStorage
from storage.statistics import usage_rows

if TYPE_CHECKING:
    from matplotlib.axes import Axes


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
    ratings: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> {"up": n, "down": n}
    unanswered: list[UnansweredQuestion] = field(default_factory=list)  # most frequent first

    @property
    def fallback_rate(self) -> float:
        total = self.understood + self.fallbacks
        return round(self.fallbacks / total, 3) if total else 0.0

    @property
    def ratings_up(self) -> int:
        return sum(counts["up"] for counts in self.ratings.values())

    @property
    def ratings_down(self) -> int:
        return sum(counts["down"] for counts in self.ratings.values())

    @property
    def positive_share(self) -> float | None:
        """Share of 👍 among all ratings; None before the first rating."""
        total = self.ratings_up + self.ratings_down
        return round(self.ratings_up / total, 3) if total else None

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["unanswered"] = [
            {**asdict(question), "last_at": question.last_at.isoformat()} for question in self.unanswered
        ]
        return {
            **data,
            "fallback_rate": self.fallback_rate,
            "ratings_up": self.ratings_up,
            "ratings_down": self.ratings_down,
            "positive_share": self.positive_share,
        }


async def usage_stats(
    storage: SqlStorage,
    days: int = 14,
    now: datetime | None = None,
    feedback: FeedbackStore | None = None,
    unanswered_limit: int = 10,
) -> UsageStats:
    """The statistics of the last `days` days (`feedback` sets how long
    unanswered questions are kept; expired ones are pruned first)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    stats = UsageStats(days=days)
    rows = await usage_rows(storage, since)
    for citizens, target in ((rows.by_channel, stats.by_channel), (rows.by_province, stats.by_province)):
        target.update({key or "?": count for key, count in citizens})
    stats.citizens = sum(stats.by_channel.values())
    active: dict[date, set[str]] = defaultdict(set)
    intents: Counter[str] = Counter()
    reached: dict[str, set[str]] = defaultdict(set)
    for user_hash, name, props, at in rows.events:
        active[at.date()].add(user_hash)
        if name == "intent":
            intents[str(props.get("intent", "?"))] += 1
        elif name == "fallback":
            stats.fallbacks += 1
        elif name == "answer_rated" and props.get("rating") in ("up", "down"):
            counts = stats.ratings.setdefault(str(props.get("topic", "?")), {"up": 0, "down": 0})
            counts[props["rating"]] += 1
        reached[name].add(user_hash)
    stats.ratings = dict(sorted(stats.ratings.items(), key=lambda item: -sum(item[1].values())))
    stats.understood = sum(intents.values())
    stats.top_intents = intents.most_common(8)
    first = (now - timedelta(days=days - 1)).date()
    stats.active_per_day = {
        (first + timedelta(days=offset)).isoformat(): len(active.get(first + timedelta(days=offset), ()))
        for offset in range(days)
    }
    stats.funnel = {stage: len(reached.get(event, ())) for stage, event in FUNNEL.items()}
    feedback = feedback or FeedbackStore(storage)
    await feedback.prune(now)
    stats.unanswered = await feedback.top_unanswered(since, limit=unanswered_limit)
    return stats


def stats_text(stats: UsageStats) -> str:
    """A short bilingual summary for a phone screen."""
    channels = ", ".join(f"{name} {count}" for name, count in stats.by_channel.items()) or "—"
    provinces = ", ".join(f"{code} {count}" for code, count in list(stats.by_province.items())[:5]) or "—"
    intents = ", ".join(f"{name} {count}" for name, count in stats.top_intents[:5]) or "—"
    funnel = " → ".join(str(count) for count in stats.funnel.values())
    last_days = list(stats.active_per_day.values())[-7:]
    if stats.positive_share is None:
        ratings = "—"
    else:
        topics = ", ".join(f"{topic} 👍{c['up']} 👎{c['down']}" for topic, c in list(stats.ratings.items())[:4])
        share = f"{stats.positive_share:.0%} hài lòng/positive"
        ratings = f"👍 {stats.ratings_up} 👎 {stats.ratings_down}, {share} ({topics})"
    questions = [f"  {q.count}× {q.text[:80]}" for q in stats.unanswered[:5]] or ["  —"]
    return "\n".join([
        f"Người dùng / Citizens: {stats.citizens} ({channels})",
        f"Tỉnh / Provinces: {provinces}",
        f"Hoạt động 7 ngày / Active, last 7 days: {' '.join(map(str, last_days))}",
        f"Ý định hàng đầu / Top intents ({stats.days} ngày/days): {intents}",
        f"Không hiểu / Fallback rate: {stats.fallback_rate:.0%} ({stats.fallbacks})",
        f"Hướng dẫn bắt đầu → xong → tra cứu → nhận phiếu / Funnel: {funnel}",
        f"Đánh giá câu trả lời / Ratings: {ratings}",
        "Câu hỏi chưa trả lời được / Unanswered questions:",
        *questions,
    ])  # fmt: skip


def stats_chart(stats: UsageStats) -> bytes:
    """Six panels as one PNG: activity per day, channels, top intents,
    funnel, ratings per topic, the most frequent unanswered questions."""
    # Here, not at the top: pyplot takes ~0.35 s to import (measured), which
    # every bot start would pay for a chart only admins ask for; and the
    # headless backend must be chosen before pyplot loads.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    figure, axes = pyplot.subplots(2, 3, figsize=(15, 7), dpi=100)
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
        _ratings_panel(axes[0][2], stats)
        _unanswered_panel(axes[1][2], stats)
        for axis in (
            axes[0][0].yaxis,
            axes[0][1].yaxis,
            axes[1][0].xaxis,
            axes[1][1].yaxis,
            axes[0][2].xaxis,
            axes[1][2].xaxis,
        ):
            axis.set_major_locator(MaxNLocator(integer=True))  # counts of people
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        pyplot.close(figure)


def _ratings_panel(axis: Axes, stats: UsageStats) -> None:
    """👍 and 👎 per topic as stacked horizontal bars."""
    topics = list(stats.ratings)[:8][::-1]
    up = [stats.ratings[topic]["up"] for topic in topics]
    down = [stats.ratings[topic]["down"] for topic in topics]
    axis.barh(topics, up, color="#5b8c5a", label="hữu ích / helpful")
    axis.barh(topics, down, left=up, color="#b3261e", label="chưa rõ / not helpful")
    share = "—" if stats.positive_share is None else f"{stats.positive_share:.0%}"
    axis.set_title(f"Đánh giá / Ratings · {share} hài lòng/positive")
    axis.tick_params(axis="y", labelsize=8)
    if topics:
        axis.legend(fontsize=7, loc="lower right")


def _unanswered_panel(axis: Axes, stats: UsageStats) -> None:
    questions = stats.unanswered[:6][::-1]
    labels = [q.text if len(q.text) <= 32 else q.text[:31] + "…" for q in questions]
    axis.barh(labels, [q.count for q in questions], color="#8a6d3b")
    axis.set_title("Câu hỏi chưa trả lời được / Unanswered")
    axis.tick_params(axis="y", labelsize=7)
