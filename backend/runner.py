"""Serving the mock's app in the current event loop (tests, `troly run`,
`troly backend`) with uvicorn; port 0 picks a free port."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from fastapi import FastAPI

from backend.service import MockGovernment


class RunningServer:
    """A uvicorn server started by `start_server`; `url` is where it listens."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task, host: str, port: int, app: FastAPI) -> None:
        self.server, self.task, self.host, self.port, self.app = server, task, host, port, app

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def service(self) -> MockGovernment:
        return self.app.state.service

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def start_server(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` in this event loop; port 0 picks a free port. When the
    service has no public URL of its own, it becomes the bound address."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error (e.g. port in use)
            raise RuntimeError("mock backend did not start")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    service: MockGovernment | None = getattr(app.state, "service", None)
    if service is not None and not service.settings.public_url:
        service.settings.public_url = f"http://{host}:{bound}"
    return RunningServer(server, task, host, bound, app)
