"""Request bodies read with limits, before anything parses or verifies them:
the size (the Content-Length refused at once, the stream cut off past the
limit, so a client that sends no length cannot make us hold more) and the
JSON nesting depth (`json.loads` recurses: thousands of `[` raise
RecursionError, a 500, and deep values hurt whatever walks them later)."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class BodyTooLarge(Exception):
    """The body is over the limit (413)."""


class BadJson(Exception):
    """Not JSON, or nested deeper than MAX_JSON_DEPTH (400)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes, or BodyTooLarge (having read at most
    about `limit` bytes of it)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw` (strings skipped)."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b"", raw)):
        depth += 1 if bracket[0] in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def loads_limited(raw: bytes) -> Any:
    """`json.loads`, refusing (BadJson) what is not JSON or nests too deep."""
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise BadJson("nested too deep")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadJson(str(error)) from None
