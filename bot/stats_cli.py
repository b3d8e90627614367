"""`troly stats [--days N] [--json] [--chart FILE]`: usage statistics for admins."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("stats", help="who uses the bot and how it copes")
    parser.add_argument("--days", type=int, default=14, help="days of activity to look at (default 14)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--chart", type=Path, help="also write the chart as a PNG here")
    parser.set_defaults(handler=lambda args: asyncio.run(_stats(args)))


async def _stats(args) -> int:
    from bot.config import load_settings
    from bot.usage_stats import stats_chart, stats_text, usage_stats
    from storage import open_storage

    storage = await open_storage(load_settings(args.config))
    try:
        stats = await usage_stats(storage, days=max(1, min(args.days, 366)))
    finally:
        await storage.close()
    print(json.dumps(stats.as_dict(), ensure_ascii=False) if args.json else stats_text(stats))
    if args.chart:
        args.chart.write_bytes(stats_chart(stats))
    return 0
