"""Replies as JSON for the outbound queue, and back. A picture is named in
the payload by its SHA-256 digest; its PNG is stored once, apart
(`outbound_pictures`), however many rows show it."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.messages import Button, Image, Link, Reply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoded:
    payload: dict[str, Any]
    pictures: dict[str, bytes]  # digest -> PNG, for each picture the payload names


def encode(replies: Sequence[Reply], meta: dict[str, Any] | None = None) -> Encoded:
    pictures: dict[str, bytes] = {}
    payload = {"replies": [_reply(reply, pictures) for reply in replies], "meta": meta or {}}
    return Encoded(payload, pictures)


def decode(payload: dict[str, Any], pictures: Mapping[str, bytes]) -> tuple[list[Reply], dict[str, Any]]:
    return [_from_json(item, pictures) for item in payload.get("replies", [])], dict(payload.get("meta") or {})


def _reply(reply: Reply, pictures: dict[str, bytes]) -> dict[str, Any]:
    data: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        data["buttons"] = [[[button.title, button.payload] for button in row] for row in reply.buttons]
    if reply.image is not None:
        image = reply.image
        digest = hashlib.sha256(image.png).hexdigest()
        pictures[digest] = image.png
        data["image"] = {"digest": digest, "alt": image.alt, "key": image.key}
    if reply.link is not None:
        data["link"] = [reply.link.title, reply.link.url]
    if reply.edit_key:
        data["edit_key"] = reply.edit_key
    return data


def _from_json(data: dict[str, Any], pictures: Mapping[str, bytes]) -> Reply:
    return Reply(
        text=data.get("text", ""),
        buttons=tuple(tuple(Button(title, payload) for title, payload in row) for row in data.get("buttons", [])),
        image=_image(data.get("image"), pictures),
        link=Link(*data["link"]) if data.get("link") else None,
        edit_key=data.get("edit_key"),
    )


def _image(data: dict[str, Any] | None, pictures: Mapping[str, bytes]) -> Image | None:
    if data is None:
        return None
    if "png" in data:  # a row written before pictures were stored apart (revision 0012)
        return Image(base64.b64decode(data["png"]), data["alt"], data["key"])
    png = pictures.get(data["digest"])
    if png is None:  # swept while its row waited (storage/outbound.py): the text still goes
        log.warning("outbound: a queued reply's picture %s is gone; sending the reply without it", data["key"])
        return None
    return Image(png, data["alt"], data["key"])
