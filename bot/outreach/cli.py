"""`troly outreach poster|stats`.

troly outreach poster --place "Xã Tân Phú" --staff CB07 [--province 75] [--web-url URL] [--out DIR]
troly outreach stats [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.outreach.poster import PosterStep


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("outreach", help="village posters and who they reached")
    commands = parser.add_subparsers(dest="outreach_command", required=True, metavar="ACTION")
    poster = commands.add_parser("poster", help="an A4 poster (PDF and PNG) with a QR code per channel")
    poster.add_argument("--place", required=True, help='commune or village, e.g. "Xã Tân Phú"')
    poster.add_argument("--staff", required=True, help="your staff code (letters and digits), e.g. CB07")
    poster.add_argument(
        "--province", help="province code for the police unit (default: found from --place; outreach.contact_line wins)"
    )
    poster.add_argument(
        "--web-url", help="the web chat's address as phones see it (default: this laptop's LAN address and web.port)"
    )
    poster.add_argument("--out", type=Path, default=Path("."), help="folder for the PDF and PNG (default: here)")
    poster.set_defaults(handler=_poster)
    stats = commands.add_parser("stats", help="citizens reached per place and staff member")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=_stats)


def _fail(message: str) -> int:
    print(f"troly outreach: {message}", file=sys.stderr)
    return 2


def _poster(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.outreach.channels import poster_channels
    from bot.outreach.contact import poster_contact
    from bot.outreach.deeplink import OutreachError, start_payload
    from bot.outreach.poster import PosterContent, make_poster
    from domain.knowledge import KnowledgeError

    settings = load_settings(args.config)
    try:
        payload = start_payload(args.place, args.staff)
        channels, channel_note = poster_channels(settings, payload, args.web_url)
        steps = poster_steps()
        contact = poster_contact(args.place, args.province, settings.outreach.contact_line)
    except (OutreachError, ValueError) as error:
        return _fail(str(error))
    except KnowledgeError as error:
        return _fail(f"the knowledge base has problems, fix them first (troly kb check):\n{error}")
    content = PosterContent(channels, args.place.strip(), args.staff, steps, contact.lines, contact.phone)
    pdf, png = make_poster(content)
    args.out.mkdir(parents=True, exist_ok=True)
    for suffix, data in ((".pdf", pdf), (".png", png)):
        (args.out / f"poster-{payload}{suffix}").write_bytes(data)
    print(f"{args.out / f'poster-{payload}.pdf'}\n{args.out / f'poster-{payload}.png'}")
    for channel in channels:
        print(f"QR {channel.name}: {channel.link}")
    for note in (channel_note, contact.note):
        if note:
            print(note)
    return 0


def poster_steps() -> list[PosterStep]:
    """The five steps marked `poster: true` in the guide: Vietnamese title,
    English note, and the guide's simplified phone screen in Vietnamese."""
    from bot.outreach.poster import PosterStep
    from domain.knowledge import load_knowledge

    knowledge = load_knowledge()
    english = {step.key: step.title for step in knowledge.poster_steps("en")}
    steps = []
    for step in knowledge.poster_steps("vi"):
        screen = knowledge.guide_step_record(step.key).extra.get("screen") or {}
        items = tuple(_vi(item) for item in screen.get("items", []))
        header = _vi(screen.get("header")) or "VNeID"
        highlight = int(screen.get("highlight", -1))
        steps.append(PosterStep(step.title, english.get(step.key, ""), header, items, highlight))
    return steps


def _vi(text: dict | None) -> str:
    return str((text or {}).get("vi") or "")


def _stats(args: argparse.Namespace) -> int:
    return asyncio.run(_print_stats(args))


async def _print_stats(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.outreach.stats import FUNNEL, outreach_stats
    from bot.wiring import open_storage

    storage = await open_storage(load_settings(args.config))
    try:
        rows = await outreach_stats(storage)
    finally:
        await storage.close()
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("Chưa có ai đến từ áp phích. / Nobody has come from a poster yet.")
        return 0
    header = ["place", "staff", "citizens", *FUNNEL]
    table = [header] + [[str(value) for value in row.as_dict().values()] for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    return 0
