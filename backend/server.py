"""The mock service's HTTP app (FastAPI), assembled from its parts.

Citizen-facing JSON API under /api/v1 (fault injection applies there),
HTML pages (/verify, /pay, /simulator), demo controls under /admin, and
/openapi.json. Bad input always gets a 4xx with a clear message.
`backend.runner` serves the app in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import httpx
from fastapi import FastAPI

from backend.errors import add_error_handlers
from backend.faults import FaultInjection
from backend.middleware import AdminAuth, BodyLimit, NoFraming
from backend.outbox import WebhookSender
from backend.routes import admin, citizen, payment, simulator, verification
from backend.service import MockGovernment
from backend.settings import MockSettings
from backend.throttle import ProofThrottle

log = logging.getLogger(__name__)

DESCRIPTION = (
    "A SIMULATION of the VNeID -> provincial police (Phòng Hồ sơ nghiệp vụ) chain for criminal-record "
    "certificates (Phiếu lý lịch tư pháp). Status labels are a design proposal, not VNeID's wording. "
    "All data is fictitious."
)


def create_app(settings: MockSettings, service: MockGovernment | None = None) -> FastAPI:
    """The mock service as an ASGI app. Its background loop (clock ticks and
    webhook delivery) runs during the app's lifespan."""
    app = FastAPI(
        title="troly mock LLTP backend",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = service or MockGovernment(settings)
    app.state.sender = WebhookSender(app.state.service)
    app.state.proof_throttle = ProofThrottle()
    randomness = app.state.randomness = random.Random()
    app.state.trainees = {}  # simulator ticket -> (code, last4, birth date, name)
    add_error_handlers(app)
    app.add_middleware(FaultInjection, settings=settings, randomness=randomness)
    app.add_middleware(AdminAuth, settings=settings)
    app.add_middleware(NoFraming)
    app.add_middleware(BodyLimit)  # added last, so it runs first
    for routes in (citizen, payment, verification, simulator, admin):
        app.include_router(routes.router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    sender: WebhookSender = app.state.sender
    sender.client = httpx.AsyncClient()
    task = asyncio.create_task(_background(app.state.service, sender))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sender.client.aclose()
        sender.client = None


async def _background(service: MockGovernment, sender: WebhookSender) -> None:
    """Clock ticks and webhook delivery; one failing tick never stops the loop."""
    while True:
        try:
            service.advance_all()
            await sender.deliver_due()
        except Exception:  # keep ticking; the next tick retries
            log.exception("mock backend tick failed")
        await asyncio.sleep(service.settings.tick_seconds)
