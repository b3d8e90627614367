"""What routes take from the running app: the service, the settings it was
created with and the webhook sender (`backend.server.create_app` puts them on
`app.state`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


Service = Annotated[MockGovernment, Depends(_service)]
Settings = Annotated[MockSettings, Depends(_settings)]
Sender = Annotated[WebhookSender, Depends(_sender)]
Throttle = Annotated[ProofThrottle, Depends(_throttle)]
