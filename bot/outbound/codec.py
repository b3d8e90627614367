"""Replies as JSON for the outbound queue, and back. Pictures travel as
base64; the row is deleted once sent."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from core.messages import Button, Image, Link, Reply


def encode(replies: Sequence[Reply], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"replies": [_reply(reply) for reply in replies], "meta": meta or {}}


def decode(payload: dict[str, Any]) -> tuple[list[Reply], dict[str, Any]]:
    return [_from_json(item) for item in payload.get("replies", [])], dict(payload.get("meta") or {})


def _reply(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        data["buttons"] = [[[button.title, button.payload] for button in row] for row in reply.buttons]
    if reply.image is not None:
        image = reply.image
        data["image"] = {"png": base64.b64encode(image.png).decode("ascii"), "alt": image.alt, "key": image.key}
    if reply.link is not None:
        data["link"] = [reply.link.title, reply.link.url]
    if reply.edit_key:
        data["edit_key"] = reply.edit_key
    return data


def _from_json(data: dict[str, Any]) -> Reply:
    image = data.get("image")
    link = data.get("link")
    return Reply(
        text=data.get("text", ""),
        buttons=tuple(tuple(Button(title, payload) for title, payload in row) for row in data.get("buttons", [])),
        image=Image(base64.b64decode(image["png"]), image["alt"], image["key"]) if image else None,
        link=Link(link[0], link[1]) if link else None,
        edit_key=data.get("edit_key"),
    )
