"""`troly backend`: run the mock government service on its own."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backend", help="run the mock government backend (VNeID -> provincial police, simulated)"
    )
    parser.add_argument("--host", help="address to listen on (default: backend.mock_host)")
    parser.add_argument("--port", type=int, help="port (default: backend.mock_port; 0 = any free port)")
    parser.add_argument("--database", help="SQLite file (default: backend.mock_database)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    settings = load_settings(args.config)
    if args.port is not None and not 0 <= args.port <= 65535:
        print("troly backend: --port must be between 0 and 65535")
        return 2
    return asyncio.run(_serve(settings, args))


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.wiring import admin_token_notice, start_mock_backend

    running = await start_mock_backend(settings, host=args.host, port=args.port, database=args.database)
    url = running.url
    print(
        f"Mock backend (SIMULATION) on {url}\n  API description: {url}/openapi.json\n"
        f"  training simulator: {url}/simulator\n  database: {running.service.settings.database}\n"
        f"{admin_token_notice()}"
    )
    try:
        await running.task
    except asyncio.CancelledError:
        await running.stop()
    finally:
        running.service.close()
    return 0
