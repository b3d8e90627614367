"""`troly`: the one command-line entry point.

Each area contributes its sub-commands through a `register(subparsers)`
function in its own module, listed in `COMMAND_MODULES`; heavy imports stay
inside the command handlers so `troly --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES: list[str] = [
    "bot.broadcast.cli",
    "bot.admin_cli",
    "bot.outreach.cli",
    "bot.stats_cli",
    "bot.demo_cli",
    "bot.backend_cli",
    "bot.nlu_cli",
    "bot.kb_cli",
    "bot.run_cli",
    "bot.eval_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="troly", description="Trợ lý LLTP — citizen assistant for LLTP in VNeID")
    parser.add_argument("--config", help="path to config.yml (default: ./config.yml or $TROLY_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # One line per plugin at every start, and one per HTTP request (each
        # Bot API call, each backend lookup): noise that costs CPU under load.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    from bot.config import ConfigError

    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(f"troly: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
