"""Fault injection on the citizen API (/api/...): run-wide faults from the
settings (changed through /admin/faults) and one request's faults from its
`X-Mock-Fault` header, so tests and demos can show the bot under a failing
backend."""

from __future__ import annotations

import asyncio
import random

from starlette.responses import Response

from backend.errors import ApiError, api_error_json, error_json
from backend.settings import FaultSettings, MockSettings

FAULT_HEADER = "X-Mock-Fault"


def parse_fault_header(value: str) -> FaultSettings:
    """`X-Mock-Fault: latency=300, error, timeout, down` -> one request's faults."""
    faults = FaultSettings()
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, argument = part.partition("=")
        if name == "latency" and argument.isdigit() and int(argument) <= 60000:
            faults.latency_ms = int(argument)
        elif name in ("error", "timeout") and not argument:
            setattr(faults, f"{name}_rate", 1.0)
        elif name == "down" and not argument:
            faults.down = True
        else:
            raise ApiError(
                400,
                "bad_fault_header",
                "Tiêu đề X-Mock-Fault không hợp lệ.",
                f"Unknown {FAULT_HEADER} part {part[:40]!r}; use latency=<ms>, error, timeout, down.",
            )
    return faults


async def apply_faults(
    run: FaultSettings, one: FaultSettings, randomness: random.Random, hang_seconds: float
) -> Response | None:
    """Wait out the latency, then the simulated failure's answer, if any."""
    latency = max(run.latency_ms, one.latency_ms)
    if latency:
        await asyncio.sleep(latency / 1000)
    if run.down or one.down:
        return error_json(
            503,
            "down",
            "Hệ thống đang bảo trì (mô phỏng).",
            "The service is down (simulated).",
        )
    if randomness.random() < max(run.timeout_rate, one.timeout_rate):
        await asyncio.sleep(hang_seconds)
        return error_json(504, "timeout", "Hệ thống phản hồi quá chậm (mô phỏng).", "Simulated timeout.")
    if randomness.random() < max(run.error_rate, one.error_rate):
        return error_json(502, "injected_error", "Lỗi hệ thống (mô phỏng).", "Injected error (simulated).")
    return None


class FaultInjection:
    """ASGI middleware applying the faults to every /api/ request."""

    def __init__(self, app, settings: MockSettings, randomness: random.Random) -> None:
        self.app, self.settings, self.randomness = app, settings, randomness

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            header = dict(scope["headers"]).get(FAULT_HEADER.lower().encode(), b"").decode("latin-1")
            refusal: Response | None
            try:
                one = parse_fault_header(header) if header else FaultSettings()
            except ApiError as exc:
                refusal = api_error_json(exc)
            else:
                refusal = await apply_faults(self.settings.faults, one, self.randomness, self.settings.hang_seconds)
            if refusal is not None:
                return await refusal(scope, receive, send)
        await self.app(scope, receive, send)
