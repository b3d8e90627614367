"""Wiring: settings -> storage -> NLU -> backend client (and the in-process
mock backend when `backend.url` is empty) -> knowledge -> dispatcher ->
channels, all served by one Starlette ASGI app:

- the web chat (`GET /`, `POST /api/chat`) and every configured channel's
  webhook routes;
- `GET /media/<token>`: signed, expiring image links (guide pictures, QR);
- `POST /hooks/backend`: the backend's signed status events, relayed to the
  users subscribed to that request through their own channel;
- `GET /healthz`: 200 when the dispatcher is ready and every configured
  channel is connected, else 503; each channel's state (connected,
  retrying since when and why, off and why) in the body.

`troly run` serves it with uvicorn; `troly chat` uses the same runtime from
a terminal. With no tokens configured this is the complete offline demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from backend.client import BackendClient
from backend.runner import RunningServer, start_server
from backend.server import create_app as create_mock_app
from backend.webhooks import verify_signature
from bot.announcements import AnnouncementSubscription
from bot.broadcast.worker import DeliveryWorker
from bot.channels import ChannelContext, configured_channels
from bot.channels.base import Channel, DeliveryError
from bot.channels.http_body import BadJson, BodyTooLarge, loads_limited, read_body
from bot.config import Settings
from bot.dispatcher import Dispatcher, Interceptor, settle_startup_memory
from bot.handoff_relay import OfficerDesk
from bot.kb_watch import KnowledgeWatcher
from bot.lan import NO_JOIN_QR, join_qr_png, url_for_phones
from bot.media import MediaStore, public_base_url
from bot.resilience import retry_transient
from bot.roles import Roles
from bot.staff_commands import StaffCommands
from bot.wiring import (
    backend_webhook_secret,
    interpreter_from_settings,
    mock_settings_from_config,
    storage_from_settings,
)
from bot.workers import WorkerJobs, polling_channels
from core.messages import Button, Inbound, Reply
from core.paths import PROJECT_ROOT
from domain.knowledge import load_knowledge
from flows.base import Services
from flows.illustrations import step_image
from flows.texts import Texts, texts
from storage.broadcasts.store import BroadcastStore
from storage.feedback import FeedbackStore
from storage.sql import SqlStorage

log = logging.getLogger(__name__)

MAX_HOOK_BODY = 64 * 1024


@dataclass
class Runtime:
    """Everything the bot runs on; `start()` opens it, `stop()` closes it."""

    settings: Settings
    mock_port: int | None = None  # None: backend.mock_port; 0: any free port
    storage: SqlStorage = field(init=False)  # from the settings, in __post_init__
    media: MediaStore = field(init=False)
    dispatcher: Dispatcher | None = None  # set by start()
    backend: BackendClient | None = None
    mock: RunningServer | None = None  # when the mock backend runs in-process
    webhook_secret: bytes = b""
    channels: list[Channel] = field(default_factory=list)
    officer_desk: OfficerDesk | None = None
    worker: bool = False  # `troly run --worker`: webhooks only, backend.url, shared PostgreSQL
    worker_jobs: WorkerJobs | None = None  # in worker mode
    kb_watcher: KnowledgeWatcher | None = None  # knowledge edits applied live
    feedback: FeedbackStore | None = None  # unanswered questions
    _delivery_stop: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _delivery_task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.storage = storage_from_settings(self.settings)
        self.media = MediaStore.from_settings(self.settings)
        context = ChannelContext(self.settings, self.storage, self.media)
        self.channels = configured_channels(context)

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """The Handler channels call; ready once `start()` has run."""
        dispatcher = self.dispatcher
        if dispatcher is None:
            raise RuntimeError("the bot is still starting")
        return await retry_transient(lambda: dispatcher.handle(inbound))

    async def start(self, start_channels: bool = True) -> None:
        if self.worker:
            self._check_worker_settings()
        await self.storage.init()
        await self.storage.open_turn_connections()
        knowledge_dir = (
            self.settings.path(self.settings.knowledge.directory) if self.settings.knowledge.directory else None
        )
        knowledge = load_knowledge(knowledge_dir)
        self.feedback = FeedbackStore(self.storage, self.settings.feedback.unanswered_keep_days)
        interpreter = await asyncio.to_thread(interpreter_from_settings, self.settings)
        self.backend = await self._backend_client()
        services = Services(
            storage=self.storage,
            texts=texts(),
            nlu=interpreter,
            backend=self.backend,
            knowledge=knowledge,
            illustrations=step_image,
            feedback=self.feedback,
        )
        officer_desk = self.officer_desk = self._officer_desk(services.texts)
        services.officer_desk = officer_desk
        self.dispatcher = Dispatcher(services, interceptors=self._interceptors(officer_desk))
        if self.settings.knowledge.reload_seconds > 0:
            self.kb_watcher = KnowledgeWatcher(services, self.storage, knowledge.directory,
                                               self.settings.knowledge.reload_seconds)  # fmt: skip
            self.kb_watcher.start()
        if start_channels:
            for channel in self.channels:
                await channel.start(self.handle)
            self._start_delivery()
        if self.worker:
            self.worker_jobs = WorkerJobs(self.storage)
            self.worker_jobs.start()

    def _check_worker_settings(self) -> None:
        """A worker shares everything with its peers: refuse what cannot be shared."""
        if not self.settings.backend.url:
            raise RuntimeError("troly run --worker needs backend.url (run the mock with `troly backend` once)")
        if not self.storage.is_postgres:
            raise RuntimeError("troly run --worker needs storage.url on PostgreSQL (shared by all workers)")
        polling = polling_channels(self.channels)
        if polling:
            raise RuntimeError(
                f"troly run --worker receives by webhook only; set a webhook_url for: {', '.join(polling)}"
            )

    def _interceptors(self, officer_desk: OfficerDesk) -> list[Interceptor]:
        """Handlers that claim messages before the dialogue: staff commands,
        citizens' announcement /stop and /start, the officer handoff relay."""
        return [
            self._staff_commands().handle,
            AnnouncementSubscription(self.storage).handle,
            officer_desk.handle,
        ]

    def _officer_desk(self, texts: Texts) -> OfficerDesk:
        """Citizens' questions to the officers' group and the answers back."""
        return OfficerDesk(self.storage, self.settings.handoff, {c.name: c for c in self.channels}, texts)

    def _start_delivery(self) -> None:
        """Deliver broadcasts (scheduled ones included) in the background."""
        worker = DeliveryWorker(
            BroadcastStore(self.storage), {channel.name: channel for channel in self.channels}, self.settings.broadcast
        )
        self._delivery_stop = asyncio.Event()
        self._delivery_task = asyncio.create_task(worker.run(self._delivery_stop), name="broadcast-delivery")

    async def _stop_delivery(self) -> None:
        if self._delivery_task is None:
            return
        self._delivery_stop.set()
        with contextlib.suppress(Exception):
            await self._delivery_task
        self._delivery_task = None

    def _staff_commands(self) -> StaffCommands:
        """Admin and outreach-staff commands in chat (`/broadcast`, `/roles`...)."""
        return StaffCommands(Roles(self.storage, self.settings.roles), BroadcastStore(self.storage), self.feedback)

    async def _backend_client(self) -> BackendClient:
        config = self.settings.backend
        if config.url:
            self.webhook_secret = backend_webhook_secret()
            return BackendClient(config.url, timeout=config.timeout_seconds)
        mock_settings = mock_settings_from_config(config, PROJECT_ROOT, str(self.settings.path(config.mock_database)))
        if not mock_settings.webhook_url:
            mock_settings.webhook_url = f"{self.public_base_url()}/hooks/backend"
        self.webhook_secret = mock_settings.webhook_secret
        port = config.mock_port if self.mock_port is None else self.mock_port
        mock = self.mock = await start_server(create_mock_app(mock_settings), config.mock_host, port)
        log.info("mock government backend (simulation) on %s", mock.url)
        return BackendClient(mock.url, timeout=config.timeout_seconds)

    def public_base_url(self) -> str:
        return public_base_url(self.settings)

    def bound_to(self, base_url: str) -> None:
        """Tell the parts that link back to us where we really listen (port 0)."""
        base_url = base_url.rstrip("/")
        self.media.public_base_url = base_url
        if self.mock is not None:
            self.mock.service.settings.webhook_url = f"{base_url}/hooks/backend"

    async def stop(self) -> None:
        if self.kb_watcher is not None:
            await self.kb_watcher.stop()
        if self.worker_jobs is not None:
            await self.worker_jobs.stop()
        await self._stop_delivery()  # before the channels it sends through close
        for channel in self.channels:
            with contextlib.suppress(Exception):
                await channel.stop()
        if self.backend is not None:
            with contextlib.suppress(Exception):
                await self.backend.aclose()
        if self.mock is not None:
            await self.mock.stop()
        await self.storage.close()

    def channel(self, name: str) -> Channel | None:
        return next((channel for channel in self.channels if channel.name == name), None)

    # --- backend status events ------------------------------------------------
    async def backend_hook(self, request: Request) -> Response:
        """A signed status event from the backend: size, then signature, then
        the JSON; each event id once (a replayed signed event is answered 200
        and notifies nobody again, within the signature's 5 minutes and the
        seen-updates window alike)."""
        try:
            body = await read_body(request, MAX_HOOK_BODY)
        except BodyTooLarge:
            return PlainTextResponse("body too large", status_code=413)
        if not verify_signature(self.webhook_secret, body, request.headers):
            return PlainTextResponse("bad signature", status_code=401)
        try:
            event = loads_limited(body)
            event_id = str(event["event_id"])
            code = str(event["code"])
            labels = {
                "vi": str(event.get("label_vi") or event["status"]),
                "en": str(event.get("label_en") or event["status"]),
            }
        except (BadJson, KeyError, TypeError):
            return PlainTextResponse("malformed event", status_code=400)
        if self.dispatcher is None:
            return PlainTextResponse("starting", status_code=503)
        if not await self.storage.first_time_seen("backend", event_id[:128]):
            return JSONResponse({"ok": True, "notified": 0, "duplicate": True})
        delivered = await self.notify_subscribers(code, labels)
        return JSONResponse({"ok": True, "notified": delivered})

    async def notify_subscribers(self, code: str, labels: dict[str, str]) -> int:
        if self.dispatcher is None:
            raise RuntimeError("the bot is still starting")
        texts = self.dispatcher.services.texts
        delivered = 0
        for subscriber in await self.storage.subscribers(code):
            channel = self.channel(subscriber.channel)
            if channel is None:
                continue
            lang = subscriber.language or "vi"
            reply = Reply(
                texts.get("status.changed", lang, code=code, label=labels[lang]),
                buttons=((texts_button(texts, lang, "menu.status", "menu:open:status"),),),
            )
            try:
                await channel.deliver(subscriber.chat_id, [reply])  # queued: a 429 does not lose it
                delivered += 1
            except DeliveryError as error:
                log.warning("status notice not delivered on %s: %s", subscriber.channel, type(error).__name__)
        return delivered


def texts_button(texts: Texts, lang: str, key: str, payload: str) -> Button:
    return Button(texts.get(key, lang), payload)


def create_app(settings: Settings, runtime: Runtime | None = None, *, settle_memory: bool = False) -> Starlette:
    """The bot's ASGI app; its lifespan starts and stops the runtime
    (`settle_memory`: then `bot.dispatcher.settle_startup_memory`, before
    the server takes its first request)."""
    runtime = runtime or Runtime(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        if settle_memory:
            settle_startup_memory()
        try:
            yield
        finally:
            await runtime.stop()

    async def healthz(request: Request) -> Response:
        """For a supervisor or load balancer: 503 while the bot is starting
        or any configured channel is not connected."""
        ok = runtime.dispatcher is not None and all(channel.health.ok for channel in runtime.channels)
        channels = {channel.name: channel.health.as_json() for channel in runtime.channels}
        return JSONResponse({"ok": ok, "channels": channels}, status_code=200 if ok else 503)

    async def join_qr(request: Request) -> Response:
        """The QR code of the chat page's address, shown on the page so
        another phone (a villager at a LAN demo) can join by scanning it;
        404 while the only address is loopback, which no phone can open."""
        url = url_for_phones(runtime.public_base_url(), settings.web.host)
        if url is None:
            return PlainTextResponse(NO_JOIN_QR, status_code=404, headers={"Cache-Control": "no-store"})
        png = join_qr_png(url + "/")
        return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/join-qr.png", join_qr, methods=["GET"]),
        Route("/hooks/backend", runtime.backend_hook, methods=["POST"]),
        *runtime.media.routes(),
    ]
    for channel in runtime.channels:
        routes.extend(channel.routes())
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.runtime = runtime
    return app
