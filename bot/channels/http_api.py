"""Calling a platform's HTTP API with httpx (Zalo Bot, Zalo OA): a network
failure becomes a `TransientError` that never carries the URL (it may hold
a token), the body is read leniently, and a 429's wait comes from
`Retry-After`."""

from __future__ import annotations

from typing import Any

import httpx

from bot.channels.base import TransientError


async def post_and_read(
    client: httpx.AsyncClient, url: str, failure: str, **request: Any
) -> tuple[httpx.Response, Any]:
    """POST `url`; the response and its JSON body ({} when it is not JSON).
    A network failure raises `TransientError` saying `failure` and the
    error's type only."""
    try:
        response = await client.post(url, **request)
    except httpx.HTTPError as error:
        raise TransientError(f"{failure}: {type(error).__name__}") from None
    try:
        return response, response.json()
    except ValueError:
        return response, {}


def retry_after(response: httpx.Response) -> float:
    """The seconds a rate-limited response asks us to wait (1 if it does not say)."""
    return float(response.headers.get("Retry-After") or 1)
