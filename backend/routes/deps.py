"""What routes take from the running app: the service, the settings it was
created with and the webhook sender (`backend.server.create_app` puts them on
`app.state`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.errors import ApiError
from backend.outbox import WebhookSender
from backend.service import MockGovernment
from backend.settings import MockSettings
from backend.throttle import ProofThrottle


# async: a plain function dependency would run in a worker thread on every request.
async def _service(request: Request) -> MockGovernment:
    return request.app.state.service


async def _settings(request: Request) -> MockSettings:
    return request.app.state.settings


async def _sender(request: Request) -> WebhookSender:
    return request.app.state.sender


async def _throttle(request: Request) -> ProofThrottle:
    return request.app.state.proof_throttle


async def demo_only(request: Request) -> None:
    """Refuse a simulation endpoint (no authentication, nothing signed)
    unless the mock runs in demo mode (`MockSettings.demo_mode`)."""
    if not request.app.state.settings.demo_mode:
        raise ApiError(
            403,
            "demo_mode_only",
            "Chức năng mô phỏng này chỉ bật ở chế độ trình diễn.",
            "This simulation endpoint is available in demo mode only.",
        )


DEMO_ONLY = [Depends(demo_only)]

Service = Annotated[MockGovernment, Depends(_service)]
Settings = Annotated[MockSettings, Depends(_settings)]
Sender = Annotated[WebhookSender, Depends(_sender)]
Throttle = Annotated[ProofThrottle, Depends(_throttle)]
