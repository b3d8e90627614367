"""The OpenAPI description of the web chat's JSON API and the bot's other
public HTTP routes, served at `GET /openapi.json` for widget authors and for
the schema-driven fuzz tests (tests/hardening/test_http_fuzz.py).

Kept by hand, next to the handlers in bot/channels/web.py, bot/app.py and
bot/media.py: the app is plain Starlette, not FastAPI.
"""

from __future__ import annotations

from typing import Any

_REFUSAL = {
    "description": "Refused, with a bilingual reason",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}},
}
_REPLIES = {
    "description": "The bot's replies",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Replies"}}},
    "headers": {
        "Set-Cookie": {"description": "troly_session: signed, HttpOnly; set when missing", "schema": {"type": "string"}}
    },
}
_USER_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}


def _chat_body(kind: str, max_length: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [kind],
        "properties": {
            # Ignored: the signed session cookie says who is speaking (kept for older widgets).
            "user_id": {**_USER_ID, "deprecated": True},
            kind: {"type": "string", "maxLength": max_length},
            "message_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "locale": {"type": "string", "maxLength": 16},
            **({"echo": {"type": "string", "maxLength": max_length}} if kind == "button" else {}),
        },
    }


def openapi_description(max_text: int, max_payload: int) -> dict[str, Any]:
    """The description, with the web channel's own size limits."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "troly bot HTTP API", "version": "1"},
        "paths": {
            "/api/chat": {
                "post": {
                    "summary": "Send one message (text, button payload or start) and get the replies",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        _chat_body("text", max_text),
                                        _chat_body("button", max_payload),
                                        _chat_body("start", max_payload),
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {"200": _REPLIES, "400": _REFUSAL, "413": _REFUSAL, "503": _REFUSAL},
                }
            },
            "/api/chat/updates": {
                "get": {
                    "summary": "Notifications waiting for this user (status changes, broadcasts)",
                    "responses": {"200": _REPLIES},
                }
            },
            "/api/chat/history": {
                "get": {
                    "summary": "The session's last 50 messages, both sides, for a reloaded page",
                    "responses": {"200": _REPLIES},
                }
            },
            "/hooks/backend": {
                "post": {
                    "summary": "The backend's signed status events (HMAC headers)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                        "200": {"description": "Relayed"},
                        "400": {"description": "Malformed"},
                        "401": {"description": "Bad signature"},
                        "413": {"description": "Too large"},
                    },
                }
            },
            "/media/{token}": {
                "get": {
                    "summary": "A signed, expiring picture link",
                    "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "The PNG"},
                        "403": {"description": "Not valid"},
                        "404": {"description": "Unknown"},
                        "410": {"description": "Expired"},
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Health: the dispatcher and every configured channel",
                    "responses": {
                        "200": {"description": "Ready, every channel connected"},
                        "503": {"description": "Starting, or a channel retrying or off (see `channels`)"},
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Refusal": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "message_vi": {"type": "string"},
                        "message_en": {"type": "string"},
                    },
                },
                "Replies": {
                    "type": "object",
                    "properties": {"replies": {"type": "array", "items": {"type": "object"}}},
                },
            }
        },
    }
