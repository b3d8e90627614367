"""Zalo Official Account adapter (Open API v3, OAuth v4).

- Receiving: Zalo posts events to our webhook. `X-ZEvent-Signature` must be
  `mac=` + sha256(app_id + raw body + timestamp + OA secret key), computed over
  the raw bytes, with the timestamp inside a freshness window (no replays).
  `user_send_text` goes to the dispatcher (a button press arrives as text
  carrying our payload prefix); `follow` starts the conversation; `unfollow`
  marks the user unreachable; pictures, stickers and the like reach the
  dispatcher as an empty text (it asks the user to type); everything else is
  acknowledged and ignored.
- Sending: `/v3.0/oa/message/cs` with text, a button template for our buttons,
  or a media template for a picture uploaded to `/v2.0/oa/upload/image`
  (at most 1 MB: bigger pictures are downscaled and compressed first).
  Every message asks the OA's pacer (`broadcast.rates.zalo_oa`), shared with
  announcements; a turn's replies go through the outbound queue
  (`bot/outbound/`), written down before the webhook request is answered.
  Zalo's rate-limit error (-32) pauses the pacer; once a message of a send
  went, a rate-limited later one waits its turn here, since the caller's
  retry of the whole send would repeat the ones that went.
- Tokens: the access token is refreshed before it expires or when Zalo says
  it is invalid (-216), by `bot.channels.zalo_oa_oauth.OaTokens`. Without a
  usable token at start, getting one is retried in the background
  (`supervise`); `health` is off when Zalo refused the refresh token.
- Events go through the shared `Receiver`: each once, in order per user,
  and a dispatcher failure answered with an apology.
- Reply window: messages the bot starts itself (`send`) follow a configured
  policy: free within 48 h of the user's last interaction, paid up to 7 days
  (only if the agency allows it), refused after.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels import ChannelContext
from bot.channels.base import Channel, DeliveryError, Handler, RateLimited, TransientError, UserUnreachable
from bot.channels.credentials import same_secret
from bot.channels.health import describe, supervise
from bot.channels.http_api import post_and_read, retry_after
from bot.channels.http_body import BadJson, BodyTooLarge, loads_limited, read_body
from bot.channels.inbox import Inbox
from bot.channels.receive import Receiver
from bot.channels.text import plain_text, split_text
from bot.channels.zalo_oa_oauth import OaTokens, ReauthorisationNeeded
from bot.channels.zalo_oa_picture import fit_image
from bot.channels.zalo_oa_window import ReplyWindowClosed, ReplyWindowPolicy, Window
from bot.config import ChannelRate, OutboundSettings, ZaloOaSettings
from bot.outbound.account import account_outbound
from bot.outbound.pacing import URGENT, ChannelPacer
from bot.outbound.queue import settle
from core.messages import Capabilities, Image, Inbound, InboundKind, Reply
from core.secrets import secret
from storage.base import User
from storage.oa_tokens import OaTokenStore, TokenPair
from storage.sql import SqlStorage

log = logging.getLogger(__name__)

NAME = "zalo_oa"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_EVENT_BYTES = 64 * 1024
# Where the signed timestamp can be, before the body is parsed.
_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,16})"?')
BUTTON_PREFIX = "#troly:"  # a pressed button comes back as a text with this prefix
ACCESS_TOKEN_INVALID = -216
ACCESS_TOKEN_EXPIRED = -124
RATE_LIMITED = -32
# Zalo's "user has not followed the OA / has not interacted for too long".
USER_UNREACHABLE_ERRORS = {-213, -230}
MAX_RETRY_SECONDS = 60.0
UNREADABLE_EVENTS = {
    "user_send_image",
    "user_send_sticker",
    "user_send_gif",
    "user_send_audio",
    "user_send_video",
    "user_send_file",
    "user_send_location",
    "user_send_link",
    "user_send_business_card",
}


# --- webhook signature -------------------------------------------------------------
def event_signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's `X-ZEvent-Signature` value for one webhook request."""
    digest = hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return f"mac={digest}"


# --- the channel ---------------------------------------------------------------------
class ZaloOaChannel(Channel):
    name = NAME

    def __init__(
        self,
        settings: ZaloOaSettings,
        storage: SqlStorage,
        app_id: str,
        oa_secret_key: str,
        tokens: OaTokens,
        api_base_url: str | None = None,
        clock: Callable[[], float] = time.time,
        *,
        rate: ChannelRate | None = None,
        outbound: OutboundSettings | None = None,
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._app_id = app_id
        self._oa_secret_key = oa_secret_key
        self.tokens = tokens
        self._api = (api_base_url or settings.api_base_url).rstrip("/")
        self._clock = clock
        self.policy = ReplyWindowPolicy(
            free=timedelta(hours=settings.free_window_hours),
            paid=timedelta(hours=settings.paid_window_hours),
            send_paid=settings.send_paid_messages,
        )
        self.capabilities = Capabilities(buttons=True, max_text_length=settings.max_text_length, image_by="upload")
        self._client: httpx.AsyncClient | None = None
        self._handle: Handler | None = None
        self._runner: asyncio.Task | None = None
        self.health.starting()
        self._receiver = Receiver(NAME)  # the OA API has no "typing..."
        self._attachments: dict[bytes, str] = {}  # sha256 of the picture -> Zalo attachment id
        # One pacer for every send of this OA: replies, notices, announcements.
        self.pacer: ChannelPacer
        self.pacer, self.queue = account_outbound(
            NAME,
            self._send_reply,
            storage,
            rate,
            outbound,
        )
        self._inbox = Inbox(NAME, storage, outbound, self._replay)

    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._settings.request_timeout_seconds)
        return self._client

    # --- lifecycle ------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [Route(self._settings.webhook_path, self._webhook, methods=["POST"], name="zalo_oa_webhook")]

    async def start(self, handle: Handler) -> None:
        """Adopt the configured tokens (refreshed if due); without a usable
        one, keep serving the webhook (answers fail, logged) and retry in
        the background."""
        self._handle = handle
        self.health.starting()
        self.queue.start()
        self._inbox.start()
        if not await self._check_token():
            self._runner = asyncio.create_task(supervise(NAME, self.health, self._retry_token), name="zalo_oa")

    async def _check_token(self) -> bool:
        """Whether retrying is over: a usable access token, or one only an officer can fix."""
        try:
            await self.tokens.access_token()
        except ReauthorisationNeeded as error:
            self.health.off(describe(error))
            log.error("zalo_oa: %s; the OA is off until it is authorised again", error)
            return True
        except DeliveryError as error:
            self.health.retrying(f"no usable OA token: {describe(error)}")
            log.warning("zalo_oa: no usable OA token yet: %s", error)
            return False
        self.health.connected()
        return True

    async def _retry_token(self) -> None:
        delay = 1.0
        while not await self._check_token():
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def drain(self, timeout: float = 10) -> None:
        """Wait until every update received so far has been answered."""
        await self._receiver.drain(timeout)

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        await self.drain()
        await self._inbox.stop()
        await self.queue.stop()
        if self._client:
            await self._client.aclose()
            self._client = None
        await self.tokens.aclose()

    # --- receiving --------------------------------------------------------------------
    async def _webhook(self, request: Request) -> Response:
        """Size first, then the signature over the raw bytes, and only then
        the JSON (with a nesting limit): nobody unsigned gets us to parse."""
        try:
            raw = await read_body(request, MAX_EVENT_BYTES)
        except BodyTooLarge:
            return _refuse(413, "body too large")
        timestamp = self._signed_timestamp(raw, request.headers.get(SIGNATURE_HEADER, ""))
        if timestamp is None:
            log.warning("zalo_oa: webhook request refused: bad signature")
            return _refuse(401, "bad signature")
        try:
            event = loads_limited(raw)
        except BadJson:
            event = None
        if not isinstance(event, dict):
            return _refuse(400, "body is not a JSON object")
        problem = self._check(event, timestamp)
        if problem:
            log.warning("zalo_oa: webhook request refused: %s", problem)
            return _refuse(401, problem)
        inbound = self.to_inbound(event)
        stored = self._submit(event, inbound)
        # Answered once the replies are written down, or else the event.
        await self._inbox.acknowledge(inbound.update_id if inbound else None, _user_id(event) or None, event, stored)
        return JSONResponse({"error": 0, "message": "Success"})

    def _replay(self, event: dict[str, Any]) -> asyncio.Future:
        """A kept event, handled again (`Inbox`)."""
        return self._submit(event, self.to_inbound(event))

    def _submit(self, event: dict[str, Any], inbound: Inbound | None) -> asyncio.Future:
        """Handle a checked event in the background, once, in order within
        its chat; the future is settled once its replies are written down."""
        update_key = inbound.update_id if inbound is not None else None
        stored: asyncio.Future = asyncio.get_running_loop().create_future()
        if not self._receiver.submit(_user_id(event), self._process(event, inbound, stored), update_key=update_key):
            settle(stored)
        return stored

    def _signed_timestamp(self, raw: bytes, signature: str) -> str | None:
        """The timestamp the signature was made with (one of the few in the
        raw body), or None when the signature matches none of them."""
        given = signature.strip().lower()
        for candidate in _TIMESTAMP.findall(raw)[:8]:
            timestamp = candidate.decode()
            if same_secret(given, event_signature(self._app_id, raw, timestamp, self._oa_secret_key)):
                return timestamp
        return None

    def _check(self, event: dict[str, Any], timestamp: str) -> str | None:
        """Why a signed event is still refused (another app's, stale), or None."""
        if str(event.get("timestamp", "")) != timestamp:
            return "bad timestamp"
        if str(event.get("app_id", self._app_id)) != self._app_id:
            return "another app's event"
        if abs(self._clock() - int(timestamp) / 1000) > self._settings.signature_window_seconds:
            return "stale event"
        return None

    async def _process(
        self, event: dict[str, Any], inbound: Inbound | None, stored: asyncio.Future | None = None
    ) -> None:
        name = event.get("event_name")
        user_id = _user_id(event)
        if not user_id:
            settle(stored)
            return
        try:
            if name == "unfollow":
                await self._set_following(user_id, False)
                return
            if inbound is None:
                return  # other events (seen, delivered, OA-side messages): nothing to answer
            if name == "follow":
                await self._set_following(user_id, True)
            assert self._handle is not None, "start() was not called"
            with self.queue.turn_replies(user_id) as written:
                replies = await self._receiver.dispatch(self._handle, inbound)
            await self.queue.deliver(user_id, replies, stored=stored, written=written)
        finally:
            settle(stored)

    @staticmethod
    def to_inbound(event: dict[str, Any]) -> Inbound | None:
        """A webhook event as an `Inbound`, or None if it is not for the dialogue."""
        name, user_id = event.get("event_name"), _user_id(event)
        if name == "follow":
            follow_id = f"follow:{user_id}:{event.get('timestamp')}"
            return Inbound(NAME, user_id, user_id, kind=InboundKind.START, update_id=follow_id)
        raw_message = event.get("message")
        message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
        message_id = message.get("msg_id")
        update_id = f"{name}:{message_id}" if message_id else None
        if name in UNREADABLE_EVENTS:
            # The dispatcher answers an empty text with "please type", in the user's language.
            return Inbound(NAME, user_id, user_id, text="", update_id=update_id)
        if name != "user_send_text" or not isinstance(message.get("text"), str):
            return None
        text = message["text"]
        if text.startswith(BUTTON_PREFIX):
            return Inbound(
                NAME, user_id, user_id, kind=InboundKind.BUTTON, payload=text[len(BUTTON_PREFIX) :], update_id=update_id
            )
        return Inbound(NAME, user_id, user_id, text=text, update_id=update_id)

    async def _set_following(self, user_id: str, following: bool) -> None:
        """A follower is reachable; someone who unfollowed is not (broadcasts
        and notifications skip them until they follow again)."""
        user: User | None
        if following:
            user = await self._storage.get_or_create_user(NAME, user_id, user_id)
        else:
            user = await self._storage.get_user(NAME, user_id)
        if user is not None and user.unreachable == following:
            user.unreachable = not following
            await self._storage.save_user(user)

    async def _send_reply(self, chat_id: str, reply: Reply, meta: dict[str, Any]) -> None:
        """One reply of a turn, for the outbound queue (answers are free in the window)."""
        try:
            await self._deliver(chat_id, [reply], self._api + "/v3.0/oa/message/cs")
        except ReauthorisationNeeded as error:
            self.health.off(describe(error))
            raise

    # --- sending ----------------------------------------------------------------------
    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Messages the bot starts itself, within the reply window policy."""
        user = await self._storage.get_user(NAME, chat_id)
        if user is not None and user.unreachable:
            raise UserUnreachable("the user unfollowed the OA")
        window = self.policy.classify(user.last_seen_at if user else None, datetime.now(UTC))
        if window == Window.CLOSED or (window == Window.PAID and not self.policy.send_paid):
            raise ReplyWindowClosed(window)
        path = "/v3.0/oa/message/cs" if window == Window.FREE else self._settings.paid_message_path
        await self._deliver(chat_id, replies, self._api + path)

    async def _deliver(self, user_id: str, replies: Sequence[Reply], url: str) -> None:
        """Send the replies' messages in order. A rate limit before any of
        them went is raised (the caller's retry sends them all); once one
        went, the rest wait their turn here: the caller's retry would
        send what went again, and again, if Zalo's limit stays tighter
        than our pacing."""
        started = False
        for reply in replies:
            for message in await self._messages(reply):
                await self._send_message(url, user_id, message, wait_when_limited=started)
                started = True

    async def _send_message(self, url: str, user_id: str, message: dict[str, Any], *, wait_when_limited: bool) -> None:
        while True:
            ticket = await self.pacer.acquire(user_id, urgent=URGENT.get())
            try:
                await self._call(url, json_body={"recipient": {"user_id": user_id}, "message": message})
                return
            except RateLimited as error:
                self.pacer.pause(error.retry_after)  # the next acquire waits for it
                if not wait_when_limited:
                    raise
            finally:
                self.pacer.finished(ticket)

    async def _messages(self, reply: Reply) -> list[dict[str, Any]]:
        """One reply as OA message bodies: the picture, then the text in
        chunks; the buttons ride on the last chunk as a template, and when
        there are more than one template holds, the rest follow in groups."""
        limit, per_message = self.capabilities.max_text_length, self._settings.max_buttons
        messages: list[dict[str, Any]] = []
        if reply.image is not None:
            attachment_id = await self._upload(reply.image)
            messages.append(
                {
                    "attachment": {
                        "type": "template",
                        "payload": {
                            "template_type": "media",
                            "elements": [{"media_type": "image", "attachment_id": attachment_id}],
                        },
                    }
                }
            )
        text = plain_text(Reply(text=reply.text, link=reply.link))
        chunks = split_text(text, limit) if text else []
        buttons = reply.all_buttons
        groups = [buttons[start : start + per_message] for start in range(0, len(buttons), per_message)]
        if groups and not chunks:
            chunks = ["👇"]  # a button template needs some text
        chunks += ["⋯"] * (len(groups) - 1)  # one message for each further group
        first_with_buttons = len(chunks) - len(groups)
        for index, chunk in enumerate(chunks):
            message: dict[str, Any] = {"text": chunk}
            if index >= first_with_buttons:
                message["attachment"] = {
                    "type": "template",
                    "payload": {
                        "buttons": [
                            {
                                "title": button.title[:100],
                                "type": "oa.query.hide",
                                "payload": BUTTON_PREFIX + button.payload,
                            }
                            for button in groups[index - first_with_buttons]
                        ]
                    },
                }
            messages.append(message)
        return messages

    async def _upload(self, image: Image) -> str:
        digest = hashlib.sha256(image.png).digest()
        if digest not in self._attachments:
            content, filename, content_type = fit_image(image.png, self._settings.max_image_bytes)
            result = await self._call(
                self._api + "/v2.0/oa/upload/image", files={"file": (filename, content, content_type)}
            )
            attachment_id = (result or {}).get("attachment_id")
            if not attachment_id:
                raise TransientError("image upload returned no attachment id")
            self._attachments[digest] = str(attachment_id)
        return self._attachments[digest]

    async def _call(self, url: str, *, json_body: Any = None, files: Any = None) -> Any:
        """POST to the OA API with a valid access token; refreshes it once if
        Zalo calls it invalid. Returns `data`, or raises a `DeliveryError`."""
        for attempt in range(2):
            token = await self.tokens.access_token()
            response, body = await post_and_read(
                self.http(), url, "Zalo OA API", json=json_body, files=files, headers={"access_token": token}
            )
            code = body.get("error") if isinstance(body, dict) else None
            if response.is_success and code == 0:
                self.health.connected()
                return body.get("data")
            if code in (ACCESS_TOKEN_INVALID, ACCESS_TOKEN_EXPIRED) and attempt == 0:
                await self.tokens.refresh(rejected_access_token=token)
                continue
            message = str(body.get("message", "")) if isinstance(body, dict) else ""
            if code == RATE_LIMITED or response.status_code == 429:
                raise RateLimited(retry_after(response), f"Zalo OA: {message}")
            if code in USER_UNREACHABLE_ERRORS:
                raise UserUnreachable(f"Zalo OA error {code}: {message}")
            if response.status_code >= 500 or code is None:
                raise TransientError(f"Zalo OA API answered {response.status_code}")
            raise DeliveryError(f"Zalo OA error {code}: {message}")
        raise TransientError("Zalo OA kept rejecting a fresh access token")


def _user_id(event: dict[str, Any]) -> str:
    for key in ("sender", "follower", "user"):
        holder = event.get(key)
        if isinstance(holder, dict) and holder.get("id"):
            return str(holder["id"])
    return ""


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": status, "message": reason}, status_code=status)


def from_settings(context: ChannelContext) -> ZaloOaChannel | None:
    """The OA channel when ZALO_OA_APP_ID, ZALO_OA_SECRET_KEY and
    ZALO_OA_REFRESH_TOKEN are set, else None."""
    app_id, oa_secret_key = secret("ZALO_OA_APP_ID"), secret("ZALO_OA_SECRET_KEY")
    access_token, refresh_token = secret("ZALO_OA_ACCESS_TOKEN"), secret("ZALO_OA_REFRESH_TOKEN")
    if not (app_id and oa_secret_key and refresh_token):
        return None
    settings = context.settings.zalo_oa
    margin = timedelta(seconds=settings.refresh_margin_seconds)
    tokens = OaTokens(
        OaTokenStore(context.storage, account=f"zalo_oa:{app_id}"),
        oauth_base_url=secret("ZALO_OA_OAUTH_BASE_URL") or settings.oauth_base_url,
        app_id=app_id,
        app_secret=secret("ZALO_OA_APP_SECRET"),
        refresh_margin=margin,
        timeout_seconds=settings.request_timeout_seconds,
        # The expiry of a configured access token is unknown: use it for a
        # minute, then refresh (a -216 before that refreshes at once).
        seed=TokenPair(
            access_token=access_token or "",
            access_expires_at=datetime.now(UTC) + margin + timedelta(minutes=1) if access_token else datetime.now(UTC),
            refresh_token=refresh_token,
        ),
    )
    return ZaloOaChannel(
        settings,
        context.storage,
        app_id,
        oa_secret_key,
        tokens,
        api_base_url=secret("ZALO_OA_API_BASE_URL"),
        rate=context.settings.broadcast.rate_for(NAME),
        outbound=context.settings.outbound,
    )
