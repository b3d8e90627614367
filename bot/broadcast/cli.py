"""`troly broadcast send|list|cancel|report|deliver`: announcements from the
command line.

`send` shows the preview and the recipient count and asks before sending
(`--yes` for scripts, `--dry-run` to list who would get it with their ids
masked); then it records the broadcast (audited) and, unless it is
scheduled for later, delivers it right here with a progress bar, through the channels
configured in this environment (it never starts polling, so a running
`troly run` keeps receiving). Stopping it (Ctrl-C) loses nothing: the
outbox keeps the rest for `troly broadcast deliver` or `troly run`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from bot.broadcast.when import VIETNAM, WhenError, parse_when

MAX_IMAGE_BYTES = 5_000_000


class UsageError(ValueError):
    """Bad input on the command line, with a message for the admin."""


def read_image(path: Path) -> bytes:
    """The picture as PNG (JPEG and others are converted), or a clear error."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture.load()
            if picture.format == "PNG" and path.stat().st_size <= MAX_IMAGE_BYTES:
                return path.read_bytes()
            out = io.BytesIO()
            picture.convert("RGB").save(out, "PNG", optimize=True)
    except (OSError, UnidentifiedImageError):
        raise UsageError(f"--image {path}: not a picture we can read (PNG or JPEG)") from None
    if out.tell() > MAX_IMAGE_BYTES:
        raise UsageError(f"--image {path}: larger than {MAX_IMAGE_BYTES // 1_000_000} MB as PNG; use a smaller picture")
    return out.getvalue()


def cli_actor() -> str:
    """The audit actor for commands typed on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


# --- progress --------------------------------------------------------------
def progress_line(report, width: int = 24) -> str:
    from bot.staff_commands import report_line

    total = report.total or 1
    filled = round(width * report.finished / total)
    return f"[{'#' * filled}{'-' * (width - filled)}] {report_line(report)}"


class ProgressBar:
    """One line redrawn in place on a terminal; a line every few seconds
    (and the last one) when the output is a file."""

    def __init__(self, out: TextIO, every: float = 5.0) -> None:
        self.out, self.every = out, every
        self.live = out.isatty()
        self._last = 0.0

    def show(self, report, final: bool = False) -> None:
        line = progress_line(report)
        if self.live:
            self.out.write("\r" + line + ("\n" if final else ""))
            self.out.flush()
        elif final or time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            print(line, file=self.out, flush=True)


# --- commands ----------------------------------------------------------------
def register(subparsers) -> None:
    parser = subparsers.add_parser("broadcast", help="send announcements to citizens")
    commands = parser.add_subparsers(dest="broadcast_command", required=True, metavar="ACTION")

    send = commands.add_parser("send", help="send (or schedule) an announcement")
    send.add_argument("--text-file", required=True, type=Path, help="UTF-8 text of the announcement")
    send.add_argument("--image", type=Path, help="a picture sent with the text (PNG or JPEG)")
    send.add_argument("--link-title", help="title of a link button under the message")
    send.add_argument("--link-url", help="URL of that link button (https://...)")
    send.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="TERM",
        help="everyone (default) or KEY=VALUE[,VALUE] with KEY channel, province, commune, language, "
        "source (outreach deep-link prefix) or following (any, or a request status); repeat to combine",
    )
    send.add_argument("--at", help="send later: '2026-12-01 08:00' (Vietnam time), ISO time with offset, or +2h")
    send.add_argument("--no-wait", action="store_true", help="only queue it; `troly run` delivers it")
    send.add_argument("--yes", action="store_true", help="send without asking (for scripts)")
    send.add_argument(
        "--dry-run", action="store_true", help="show the preview and who would get it (ids masked); send nothing"
    )
    send.set_defaults(handler=_run(_send))

    listing = commands.add_parser("list", help="the latest broadcasts")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_run(_list))

    cancel = commands.add_parser("cancel", help="stop a scheduled or sending broadcast")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=_run(_cancel))

    report = commands.add_parser("report", help="how far a broadcast got")
    report.add_argument("id", type=int)
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=_run(_report))

    deliver = commands.add_parser("deliver", help="work the outbox here until nothing is left to send")
    deliver.set_defaults(handler=_run(_deliver))


def _run(command):
    def handler(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(_with_store(command, args))
        except (UsageError, WhenError) as error:
            print(f"troly broadcast: {error}", file=sys.stderr)
            return 2

    return handler


async def _with_store(command, args) -> int:
    from bot.config import load_settings
    from bot.wiring import open_storage
    from storage.broadcasts.model import SegmentError
    from storage.broadcasts.store import BroadcastStore

    settings = load_settings(args.config)
    storage = await open_storage(settings)
    try:
        return await command(args, settings, BroadcastStore(storage))
    except SegmentError as error:
        raise UsageError(str(error)) from None
    finally:
        await storage.close()


async def _send(args, settings, store) -> int:
    from storage.broadcasts.model import Segment

    try:
        text = args.text_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(
            f"--text-file {args.text_file}: cannot read it as UTF-8 text ({error.__class__.__name__})"
        ) from error
    if not text:
        raise UsageError(f"--text-file {args.text_file} is empty")
    if bool(args.link_title) != bool(args.link_url):
        raise UsageError("--link-title and --link-url go together")
    if args.link_url and not args.link_url.startswith("https://"):
        raise UsageError("--link-url must start with https://")
    image = read_image(args.image) if args.image else None
    at = parse_when(args.at) if args.at else None
    segment = Segment.parse(args.segment)
    link = (args.link_title, args.link_url) if args.link_url else None
    count = await store.recipients(segment)
    print(preview(text, image, link, segment.describe(), count, at))
    if args.dry_run:
        for channel, user_id, province, language in await store.recipient_sample(segment, DRY_RUN_ROWS):
            print(f"  {channel:<9} {mask_id(user_id):<12} province {province or '-':<3} {language or 'vi'}")
        if count > DRY_RUN_ROWS:
            print(f"  ... and {count - DRY_RUN_ROWS} more")
        print("Dry run: nothing was sent.")
        return 0
    if not args.yes and not confirmed(count):
        print("Not sent. (Scripts: add --yes to send without asking.)")
        return 1
    broadcast = await store.create(created_by=cli_actor(), text=text, segment=segment, image=image, link=link, at=at)
    if at is not None and broadcast.status == "scheduled":
        local = broadcast.scheduled_at.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M")
        print(f"Broadcast #{broadcast.id} scheduled for {local} (Vietnam time), segment: {segment.describe()}.")
        print(f"`troly run` sends it then; cancel with `troly broadcast cancel {broadcast.id}`.")
        return 0
    print(f"Broadcast #{broadcast.id}: {broadcast.recipients} recipients, segment: {segment.describe()}.")
    if args.no_wait:
        return 0
    return await _deliver_with_progress(settings, store, broadcast.id)


DRY_RUN_ROWS = 50


def preview(text: str, image: bytes | None, link, segment: str, count: int, at) -> str:
    """What citizens will see, then who and when: the same summary as the chat's /broadcast preview."""
    rule = "-" * 60
    lines = [rule, text]
    if image:
        lines.append(f"[picture: {len(image) // 1024} KB]")
    if link:
        lines.append(f"[link button: {link[0]} -> {link[1]}]")
    when = "now" if at is None else at.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M (Vietnam time)")
    lines += [rule, f"Recipients: {count} ({segment}), sending {when}."]
    return "\n".join(lines)


def confirmed(count: int) -> bool:
    """Ask on stdin; anything but yes (or no answer at all) is a no."""
    print(f"Send to {count} people? Gửi tới {count} người? [y/N] ", end="", flush=True)
    answer = sys.stdin.readline()
    if not answer:
        print()
    return answer.strip().lower() in ("y", "yes", "c", "có", "co")


def mask_id(user_id: str) -> str:
    """A platform user id with only its ends shown, enough to tell rows apart."""
    return user_id[:2] + "***" + user_id[-2:] if len(user_id) > 6 else "***"


async def _deliver(args, settings, store) -> int:
    return await _deliver_with_progress(settings, store, None)


async def _deliver_with_progress(settings, store, broadcast_id: int | None) -> int:
    """Run a delivery worker here, showing `broadcast_id`'s progress (or
    working until the outbox is empty), with the configured channels."""
    from bot.broadcast.worker import DeliveryWorker
    from bot.channels import ChannelContext, configured_channels
    from bot.media import MediaStore
    from storage.broadcasts.model import DeliveryState

    channels = {
        channel.name: channel
        for channel in configured_channels(ChannelContext(settings, store.storage, MediaStore.from_settings(settings)))
    }
    waiting = set(await store.channels_with_work()) - set(channels)
    if waiting:
        print(
            f"No adapter configured here for: {', '.join(sorted(waiting))} (tokens are read from the environment, "
            "e.g. TELEGRAM_BOT_TOKEN). Those messages stay in the outbox for `troly run`.",
            file=sys.stderr,
        )
    worker = DeliveryWorker(store, channels, settings.broadcast)
    stop = asyncio.Event()
    work = asyncio.create_task(worker.run(stop, exit_when_idle=broadcast_id is None))
    bar = ProgressBar(sys.stderr)
    try:
        while not work.done():
            if broadcast_id is not None:
                report = await store.report(broadcast_id)
                bar.show(report)
                if report.status in ("done", "cancelled") and not report.count(DeliveryState.IN_FLIGHT):
                    break
                if not channels:
                    break
            await asyncio.wait({work}, timeout=0.5)
    finally:
        stop.set()
        await work
        for channel in channels.values():
            await channel.stop()
    if broadcast_id is not None:
        report = await store.report(broadcast_id)
        bar.show(report, final=True)
        print(json.dumps(report.as_dict()))
    return 0


async def _list(args, settings, store) -> int:
    from bot.staff_commands import broadcast_title, report_line

    rows = []
    for broadcast in await store.newest(limit=args.limit):
        report = await store.report(broadcast.id)
        rows.append((broadcast, report))
    if args.json:
        print(json.dumps([
            {**report.as_dict(), "segment": b.segment.to_json(), "scheduled_at": b.scheduled_at.isoformat(),
             "created_by": b.created_by} for b, report in rows
        ], ensure_ascii=False))  # fmt: skip
        return 0
    if not rows:
        print("No broadcasts yet.")
    for broadcast, report in rows:
        when = broadcast.scheduled_at.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M")
        print(f"{broadcast_title(broadcast)}  ({when} ICT)\n  {report_line(report)}")
    return 0


async def _cancel(args, settings, store) -> int:
    broadcast = await store.get(args.id)
    if broadcast is None:
        raise UsageError(f"there is no broadcast #{args.id}")
    if await store.cancel(args.id, cli_actor()) is None:
        raise UsageError(f"broadcast #{args.id} already ended ({broadcast.status})")
    print(f"Broadcast #{args.id} cancelled; messages not yet sent are skipped.")
    return 0


async def _report(args, settings, store) -> int:
    report = await store.report(args.id)
    if report is None:
        raise UsageError(f"there is no broadcast #{args.id}")
    print(json.dumps(report.as_dict()) if args.json else progress_line(report))
    return 0
