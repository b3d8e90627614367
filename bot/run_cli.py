"""`troly run` (serve everything configured; with nothing configured, the
offline demo) and `troly chat` (talk to the bot in the terminal)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", help="serve the bot: web chat, configured channels, mock backend if no backend.url"
    )
    run.add_argument("--host", help="address to listen on (default: web.host)")
    run.add_argument("--port", type=int, help="port (default: web.port)")
    run.add_argument(
        "--worker",
        action="store_true",
        help="one of several workers: webhooks and API only, backend.url, shared PostgreSQL (docs/deploy.md)",
    )
    run.add_argument(
        "--lan",
        action="store_true",
        help="serve on the local network (0.0.0.0) and print the address as a QR code for phones",
    )
    run.set_defaults(handler=serve_command)
    chat = subparsers.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--user", default="console", help="console user id (default: console)")
    chat.set_defaults(handler=chat_command)


def serve_command(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    settings = load_settings(args.config)
    host = args.host or settings.web.host
    port = settings.web.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        print("troly run: --port must be between 0 and 65535")
        return 2
    if getattr(args, "lan", False):
        settings, host = lan_settings(settings, port)
        print(lan_banner_for(settings), flush=True)
    with asyncio.Runner(loop_factory=_fast_event_loop()) as runner:
        return runner.run(serve(settings, host, port, worker=args.worker))


def _fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows): a worker
    spent about 5% less CPU per message with it (bench/load.py). uvicorn
    likewise parses HTTP with httptools when present."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve(settings: Settings, host: str, port: int, worker: bool = False) -> int:
    import uvicorn

    from bot.app import Runtime, create_app
    from bot.wiring import admin_token_notice

    app = create_app(settings, Runtime(settings, worker=worker), settle_memory=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    role = "worker" if worker else "web chat"
    print(f"Trợ lý LLTP: {role} on http://{host}:{port}  (Ctrl+C to stop)", flush=True)
    if not worker and not settings.backend.url:
        print(f"Mock backend (SIMULATION) in-process\n{admin_token_notice()}", flush=True)
    await server.serve()
    return 0 if server.started else 1


def lan_settings(settings: Settings, port: int, ip: str | None = None) -> tuple[Settings, str]:
    """Settings for a LAN demo: listen on every interface and give phones
    the LAN address (media links, the page's QR and, with the in-process
    mock backend, certificate and payment links), unless one is configured."""
    from bot.lan import LAN_HOST, lan_ip, lan_url

    ip = ip or lan_ip()
    web = settings.web.model_copy(update={"host": LAN_HOST, "port": port})
    if not web.public_base_url:
        web = web.model_copy(update={"public_base_url": lan_url(ip, port).rstrip("/")})
    backend = settings.backend
    if not backend.url:
        public = backend.mock_public_url or lan_url(ip, backend.mock_port).rstrip("/")
        backend = backend.model_copy(update={"mock_host": LAN_HOST, "mock_public_url": public})
    return settings.model_copy(update={"web": web, "backend": backend}), LAN_HOST


def lan_banner_for(settings: Settings) -> str:
    from bot.lan import lan_banner

    return lan_banner(settings.web.public_base_url.rstrip("/") + "/")


def chat_command(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    return asyncio.run(chat(load_settings(args.config), args.user))


async def chat(settings: Settings, user_id: str) -> int:
    from bot.app import Runtime
    from bot.channels.console import ConsoleChannel, run_console

    runtime = Runtime(settings, mock_port=0)
    await runtime.start(start_channels=False)
    console = ConsoleChannel(picture_dir=settings.path("var/console"))
    runtime.channels.append(console)
    print("Gõ tin nhắn; /quit để thoát. Type a message; /quit to leave.\n")
    try:
        await run_console(runtime.handle, console, user_id=user_id)
    finally:
        await runtime.stop()
    return 0
