"""`troly admin grant|revoke|list`: roles in the database (config.yml's
`roles:` section adds more). Every change is audited with the operator's
login as actor."""

from __future__ import annotations

import argparse
import asyncio
import sys

ROLE_NAMES = ("admin", "officer", "outreach")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("admin", help="who is admin, officer or outreach staff")
    commands = parser.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    for name, help_text in (("grant", "give a role"), ("revoke", "take a role away")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("role", choices=ROLE_NAMES)
        command.add_argument("who", help="<channel>:<user id>, e.g. telegram:123456789")
        command.set_defaults(handler=_handler)
    listing = commands.add_parser("list", help="everyone with a role")
    listing.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    return asyncio.run(_admin(args))


async def _admin(args: argparse.Namespace) -> int:
    from bot.broadcast.cli import cli_actor
    from bot.config import load_settings
    from bot.roles import Role, RoleError, Roles
    from bot.wiring import open_storage

    settings = load_settings(args.config)
    storage = await open_storage(settings)
    try:
        roles = Roles(storage, settings.roles)
        if args.admin_command == "list":
            for grant in await roles.list():
                by = f" by {grant.granted_by} at {grant.granted_at:%Y-%m-%d %H:%M} UTC" if grant.granted_by else ""
                print(f"{grant.role:<9} {grant.who}  ({grant.source}{by})")
            return 0
        change = roles.grant if args.admin_command == "grant" else roles.revoke
        try:
            changed = await change(args.who, Role(args.role), cli_actor())
        except RoleError as error:
            print(f"troly admin: {error}", file=sys.stderr)
            return 2
        verb = "granted" if args.admin_command == "grant" else "revoked"
        print(f"{args.role} {verb}: {args.who}" if changed else f"nothing to do: {args.who} ({args.role})")
        return 0
    finally:
        await storage.close()
