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
from domain.provinces import province_by_code
from flows.texts import texts
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


NO_DATA = "Chưa có dữ liệu / No data yet"
UNKNOWN_PROVINCE = "Chưa rõ tỉnh"  # the citizen has not said
CHANNEL_NAMES = {
    "telegram": "Telegram",
    "zalo_bot": "Zalo Bot",
    "zalo_oa": "Zalo OA",
    "web": "Web",
    "console": "Console",
}


def province_label(code: str) -> str:
    """The province's name for a stored code ("?": not told)."""
    province = province_by_code(code) if code != "?" else None
    return province.name if province else UNKNOWN_PROVINCE if code == "?" else code


def channel_label(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def stats_text(stats: UsageStats) -> str:
    """A short bilingual summary for a phone screen, with names, not ids."""
    channels = ", ".join(f"{channel_label(name)} {count}" for name, count in stats.by_channel.items()) or "—"
    provinces = (
        ", ".join(f"{province_label(code)} {count}" for code, count in list(stats.by_province.items())[:5]) or "—"
    )
    intents = ", ".join(f"{texts().intent_name(name)} {count}" for name, count in stats.top_intents[:5]) or "—"
    funnel = " → ".join(str(count) for count in stats.funnel.values())
    last_days = list(stats.active_per_day.values())[-7:]
    if stats.positive_share is None:
        ratings = "—"
    else:
        rated = list(stats.ratings.items())[:4]
        topics = ", ".join(f"{texts().intent_name(topic)} 👍{c['up']} 👎{c['down']}" for topic, c in rated)
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


def stats_chart(stats: UsageStats, image_format: str = "png") -> bytes:
    """Six panels as one picture (PNG; "svg" keeps its words as text):
    activity per day, channels, top intents, funnel, ratings per topic, the
    most frequent unanswered questions. Names, never ids; a panel with
    nothing to show says so instead of drawing empty axes."""
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
        channels = [channel_label(name) for name in stats.by_channel]
        axes[0][1].bar(channels, list(stats.by_channel.values()), color="#3d6fb4")
        axes[0][1].set_title("Theo kênh / By channel")
        names = [texts().intent_name(name) for name, _ in stats.top_intents][::-1]
        axes[1][0].barh(names, [count for _, count in stats.top_intents][::-1], color="#5b8c5a")
        axes[1][0].set_title(f"Ý định / Top intents · fallback {stats.fallback_rate:.0%}")
        axes[1][0].tick_params(axis="y", labelsize=8)
        stages = ["HD bắt đầu\nguide started", "HD xong\nguide done", "Tra cứu\nstatus", "Nhận phiếu\ncertificate"]
        axes[1][1].bar(stages, list(stats.funnel.values()), color="#b3261e")
        axes[1][1].set_title("Hành trình / Funnel")
        axes[1][1].tick_params(axis="x", labelsize=7)
        _ratings_panel(axes[0][2], stats)
        _unanswered_panel(axes[1][2], stats)
        counted = (
            (axes[0][0], axes[0][0].yaxis, sum(stats.active_per_day.values())),
            (axes[0][1], axes[0][1].yaxis, stats.citizens),
            (axes[1][0], axes[1][0].xaxis, stats.understood),
            (axes[1][1], axes[1][1].yaxis, sum(stats.funnel.values())),
            (axes[0][2], axes[0][2].xaxis, stats.ratings_up + stats.ratings_down),
            (axes[1][2], axes[1][2].xaxis, len(stats.unanswered)),
        )
        for axis, count_axis, total in counted:
            if total:
                count_axis.set_major_locator(MaxNLocator(integer=True))  # counts of people
            else:
                _no_data(axis)
        figure.tight_layout()
        out = io.BytesIO()
        if image_format == "svg":
            with matplotlib.rc_context({"svg.fonttype": "none"}):
                figure.savefig(out, format="svg")
        else:
            figure.savefig(out, format=image_format)
        return out.getvalue()
    finally:
        pyplot.close(figure)


def _no_data(axis: Axes) -> None:
    """An empty panel: the words instead of axes around nothing."""
    for artist in [*axis.patches, *axis.lines]:
        artist.remove()
    axis.set_xticks([])
    axis.set_yticks([])
    axis.text(0.5, 0.5, NO_DATA, ha="center", va="center", transform=axis.transAxes, color="#44474e", fontsize=11)


def _ratings_panel(axis: Axes, stats: UsageStats) -> None:
    """👍 and 👎 per topic as stacked horizontal bars."""
    topics = list(stats.ratings)[:8][::-1]
    up = [stats.ratings[topic]["up"] for topic in topics]
    down = [stats.ratings[topic]["down"] for topic in topics]
    labels = [texts().intent_name(topic) for topic in topics]
    axis.barh(labels, up, color="#5b8c5a", label="hữu ích / helpful")
    axis.barh(labels, down, left=up, color="#b3261e", label="chưa rõ / not helpful")
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
