"""`troly outreach poster|stats`.

troly outreach poster --place "Xã Tân Phú" --staff CB07 [--province 75] [--out DIR]
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
    poster = commands.add_parser("poster", help="an A4 poster (PDF and PNG) with the bot's QR code")
    poster.add_argument("--place", required=True, help='commune or village, e.g. "Xã Tân Phú"')
    poster.add_argument("--staff", required=True, help="your staff code (letters and digits), e.g. CB07")
    poster.add_argument("--province", help="province code for the contact line (when outreach.contact_line is empty)")
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
    from bot.outreach.deeplink import OutreachError, deep_link, start_payload
    from bot.outreach.poster import PosterContent, make_poster
    from domain.knowledge import KnowledgeError

    settings = load_settings(args.config)
    try:
        payload = start_payload(args.place, args.staff)
        link = deep_link(settings.outreach.telegram_bot_username, payload)
        steps = poster_steps()
        contact = settings.outreach.contact_line or province_contact(args.province)
    except OutreachError as error:
        return _fail(str(error))
    except KnowledgeError as error:
        return _fail(f"the knowledge base has problems, fix them first (troly kb check):\n{error}")
    pdf, png = make_poster(PosterContent(link, args.place.strip(), args.staff, steps, contact))
    args.out.mkdir(parents=True, exist_ok=True)
    for suffix, data in ((".pdf", pdf), (".png", png)):
        (args.out / f"poster-{payload}{suffix}").write_bytes(data)
    print(f"{args.out / f'poster-{payload}.pdf'}\n{args.out / f'poster-{payload}.png'}\nQR: {link}")
    return 0


def poster_steps() -> list[PosterStep]:
    """The five steps marked `poster: true` in the guide, Vietnamese titles
    with the English title as the note, and their illustrations."""
    from bot.outreach.poster import PosterStep
    from domain.knowledge import load_knowledge
    from flows.illustrations import step_image

    knowledge = load_knowledge()
    english = {step.key: step.title for step in knowledge.poster_steps("en")}
    return [
        PosterStep(step.title, english.get(step.key, ""), step_image(step.key, "vi", knowledge))
        for step in knowledge.poster_steps("vi")
    ]


def province_contact(province_code: str | None) -> str:
    from bot.outreach.deeplink import OutreachError
    from domain.knowledge import load_knowledge

    if not province_code:
        raise OutreachError("set outreach.contact_line in config.yml, or give --province CODE for the contact line")
    return load_knowledge().contacts(province_code, "vi").text


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
