"""Demo controls under /admin (the admin token always required, see
`backend.middleware.AdminAuth`): the simulated clock, fast-forwarding and
removing requests, fault injection, certificate revocation and the webhook
outbox."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form

from backend.errors import NO_SUCH_REQUEST, ApiError, parse_code
from backend.routes.deps import Sender, Service, Settings
from backend.schemas import AdvanceBody, ClockBody, FaultBody
from backend.service import MockGovernment
from backend.settings import FaultSettings

router = APIRouter()


@router.get("/admin/clock", tags=["admin"])
async def get_clock(service: Service):
    return _clock(service)


@router.post("/admin/clock", tags=["admin"])
async def set_clock(body: ClockBody, service: Service, sender: Sender):
    """Fast-forward the whole clock (`advance_hours`) and/or change its `speed`."""
    if body.speed is not None:
        service.clock.set_speed(float(body.speed))
    if body.advance_hours:
        service.clock.advance(timedelta(hours=float(body.advance_hours)))
    service.advance_all()
    await sender.deliver_due()
    return _clock(service)


def _clock(service: MockGovernment) -> dict:
    return {"now": service.clock.now().isoformat(timespec="seconds"), "speed": service.clock.speed}


@router.post("/admin/requests/{code}/advance", tags=["admin"])
async def advance_request(code: str, service: Service, sender: Sender, body: AdvanceBody | None = None):
    """Fast-forward one request through its next step(s), even a held demo one."""
    code = parse_code(code)
    if not service.fast_forward_request(code, (body or AdvanceBody()).steps):
        raise NO_SUCH_REQUEST
    await sender.deliver_due()
    return {"code": code, "status": service.status_of(code)}


@router.delete("/admin/requests/{code}", tags=["admin"])
async def remove_request(code: str, service: Service):
    """Demo reset: remove a request and everything about it (`troly demo reset`)."""
    code = parse_code(code)
    if not service.remove_request(code):
        raise NO_SUCH_REQUEST
    return {"code": code, "removed": True}


@router.get("/admin/faults", tags=["admin"])
async def get_faults(settings: Settings):
    return asdict(settings.faults)


@router.put("/admin/faults", tags=["admin"])
async def put_faults(body: FaultBody, settings: Settings):
    """Faults for every /api call from now on (all zero / false = healthy)."""
    settings.faults = FaultSettings(body.latency_ms, float(body.error_rate), float(body.timeout_rate), body.down)
    return asdict(settings.faults)


@router.post("/admin/certificates/revoke", tags=["admin"])
async def revoke(number: Annotated[str, Form(max_length=40)], service: Service):
    if not service.revoke_certificate(number):
        raise ApiError(404, "not_found", "Không có phiếu này.", "No such certificate.")
    return {"number": number, "revoked": True}


@router.get("/admin/webhooks", tags=["admin"])
async def webhook_outbox(service: Service):
    rows = service.db.execute(
        "SELECT event_id, attempts, delivered_at IS NOT NULL AS delivered, gave_up, last_error FROM outbox"
        " ORDER BY id DESC LIMIT 50"
    ).fetchall()
    return [dict(r) for r in rows]
