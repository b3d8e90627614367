"""`troly stats [--days N] [--json] [--chart FILE] [--unanswered]`: usage
statistics for admins.

`--unanswered` prints instead the questions the bot could not answer
(masked, most frequent first) as Rasa `nlu.yml` lines, grouped by the NLU's
guess, for an editor to check and paste into nlu/data/nlu.yml.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stats", help="who uses the bot and how it copes")
    parser.add_argument("--days", type=int, default=14, help="days of activity to look at (default 14)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--chart", type=Path, help="also write the chart as a PNG here")
    parser.add_argument(
        "--unanswered", action="store_true", help="print the unanswered questions as nlu.yml lines to paste"
    )
    parser.add_argument("--limit", type=int, default=50, help="how many unanswered questions (default 50)")
    parser.set_defaults(handler=lambda args: asyncio.run(_stats(args)))


async def _stats(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.usage_stats import stats_chart, stats_text, usage_stats
    from bot.wiring import open_storage
    from storage.feedback import FeedbackStore, nlu_yaml

    settings = load_settings(args.config)
    days = max(1, min(args.days, 366))
    limit = max(1, min(args.limit, 1000))
    storage = await open_storage(settings)
    try:
        feedback = FeedbackStore(storage, settings.feedback.unanswered_keep_days)
        stats = await usage_stats(storage, days=days, feedback=feedback, unanswered_limit=limit)
    finally:
        await storage.close()
    if args.unanswered:
        print(nlu_yaml(stats.unanswered, days), end="")
    elif args.json:
        print(json.dumps(stats.as_dict(), ensure_ascii=False))
    else:
        print(stats_text(stats))
    if args.chart:
        args.chart.write_bytes(stats_chart(stats))
    return 0
