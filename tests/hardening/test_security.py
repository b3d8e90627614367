"""Security checks (issue 8, item 5), each as a scenario.

Per-channel tests already cover parts of this; they stay where they are:
- webhook secrets: tests/telegram/test_webhook.py, tests/zalo/test_zalo_bot.py,
  tests/zalo/test_zalo_oa.py (also replay and tampering), tests/web/test_api.py;
- staff commands from citizens: tests/broadcast/test_roles.py;
- lookup lock-out: tests/flows/test_journeys.py;
- media links: tests/media/test_media_links.py; verification links:
  tests/backend/test_verification_page.py.
Here the same promises are checked across the whole bot at once (every
webhook of one running app, every staff command, every table), plus the logs
of a full conversation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from backend.tokens import read_token, sign_token
from backend.webhooks import signed_headers
from bot.app import Runtime, create_app
from bot.config import Settings
from bot.staff_commands import COMMANDS
from core.messages import Image, Inbound, InboundKind
from storage.schema import metadata
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramApi
from tests.fakes.zalo_bot_api import ZaloBotApiFake
from tests.fakes.zalo_oa_api import ZaloOaApiFake
from tests.flows.helpers import AWAITING_PAYMENT_CODE, COMPLETED_CODE, LAN_ID
from tests.hardening.conftest import ADMIN

ZALO_BOT_TOKEN = "1459232241454765289:hardening-zalo-bot-token"
SECRETS = {
    "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": "tg-webhook-secret-4f9a1c",
    "ZALO_BOT_TOKEN": ZALO_BOT_TOKEN,
    "ZALO_BOT_WEBHOOK_SECRET": "zb-webhook-secret-77e2d0",
    "ZALO_OA_SECRET_KEY": "oa-secret-key-hardening",
    "ZALO_OA_APP_SECRET": "oa-app-secret-hardening",
    "TROLY_MEDIA_SECRET": "media-secret-hardening-0123456789",
}
APP_ID = "360846524940903967"
PHONE = "0912345678"
PLACEHOLDER = "https://bot.invalid"


@pytest.fixture
async def fakes(monkeypatch):
    async with (
        FakeTelegramApi() as telegram,
        ZaloBotApiFake(ZALO_BOT_TOKEN) as zalo_bot,
        ZaloOaApiFake(APP_ID, SECRETS["ZALO_OA_SECRET_KEY"], SECRETS["ZALO_OA_APP_SECRET"]) as zalo_oa,
    ):
        access, refresh = zalo_oa.issue_tokens()
        environment = {
            **SECRETS,
            "TELEGRAM_BASE_URL": telegram.base_url,
            "ZALO_BOT_BASE_URL": zalo_bot.base_url,
            "ZALO_OA_APP_ID": APP_ID,
            "ZALO_OA_ACCESS_TOKEN": access,
            "ZALO_OA_REFRESH_TOKEN": refresh,
            "ZALO_OA_API_BASE_URL": zalo_oa.base_url,
            "ZALO_OA_OAUTH_BASE_URL": zalo_oa.base_url,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        yield {"telegram": telegram, "zalo_bot": zalo_bot, "zalo_oa": zalo_oa, "secrets": environment}


@pytest.fixture
async def whole_bot(tmp_path, fakes):
    """`troly run` with every channel on webhooks: Telegram, Zalo Bot, Zalo
    OA, web chat and the backend's status hook, on one loopback port."""
    from backend.runner import start_server

    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"},
            "backend": {"mock_database": str(tmp_path / "mock.sqlite3")},
            "media": {"directory": str(tmp_path / "media"), "secret_file": str(tmp_path / "media-secret")},
            "telegram": {"webhook_url": f"{PLACEHOLDER}/telegram/webhook", "typing_delay_seconds": 0},
            "zalo_bot": {"webhook_url": f"{PLACEHOLDER}/zalo/bot/webhook"},
        }
    )
    runtime = Runtime(settings, mock_port=0)
    server = await start_server(create_app(settings, runtime), "127.0.0.1", 0)
    runtime.bound_to(server.url)
    telegram = fakes["telegram"]
    await telegram.wait_for(lambda: telegram.webhook)
    telegram.webhook["url"] = f"{server.url}/telegram/webhook"  # the platform reaches us on loopback
    fakes["zalo_bot"].state.webhook_url = f"{server.url}/zalo/bot/webhook"
    fakes["zalo_oa"].webhook_url = f"{server.url}/zalo/oa/webhook"
    yield server.url, runtime
    await server.stop()


async def table_rows(storage) -> dict[str, list[dict]]:
    """Every row of every table, read through the storage's own engine."""
    found = {}
    async with storage.transaction() as conn:
        for table in metadata.sorted_tables:
            found[table.name] = [dict(row._mapping) for row in (await conn.execute(select(table))).all()]
    return found


# --- webhooks ------------------------------------------------------------------
def _telegram_update() -> bytes:
    return json.dumps(
        {
            "update_id": 9001,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "text": "/start",
                "chat": {"id": 4242, "type": "private"},
                "from": {"id": 4242, "is_bot": False, "first_name": "X"},
            },
        }
    ).encode()


def _zalo_bot_update() -> bytes:
    return json.dumps(
        {
            "ok": True,
            "result": {
                "event_name": "message.text.received",
                "message": {
                    "from": {"id": "zb-intruder"},
                    "chat": {"id": "zb-intruder"},
                    "text": "/start",
                    "message_id": "m1",
                    "date": int(time.time() * 1000),
                },
            },
        }
    ).encode()


def _zalo_oa_event() -> bytes:
    return json.dumps(
        {
            "app_id": APP_ID,
            "event_name": "user_send_text",
            "timestamp": str(int(time.time() * 1000)),
            "sender": {"id": "oa-intruder"},
            "recipient": {"id": "oa"},
            "message": {"text": "/start", "msg_id": "m1"},
        }
    ).encode()


def _backend_event() -> bytes:
    return json.dumps(
        {
            "event_id": "e-forged",
            "type": "request.status_changed",
            "code": AWAITING_PAYMENT_CODE,
            "status": "COMPLETED",
            "label_vi": "Đã xong",
            "label_en": "Done",
        }
    ).encode()


WEBHOOKS = {
    "telegram": ("/telegram/webhook", _telegram_update, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}),
    "zalo_bot": ("/zalo/bot/webhook", _zalo_bot_update, {"X-Bot-Api-Secret-Token": "wrong"}),
    "zalo_oa": ("/zalo/oa/webhook", _zalo_oa_event, {"X-ZEvent-Signature": "mac=" + "0" * 64}),
    "backend": ("/hooks/backend", _backend_event, None),  # wrong: signed with another secret, below
}


@pytest.mark.parametrize("credentials", ["missing", "wrong"])
async def test_every_webhook_refuses_a_missing_or_wrong_secret_and_processes_nothing(whole_bot, fakes, credentials):
    url, runtime = whole_bot
    before = await table_rows(runtime.storage)
    async with httpx.AsyncClient(base_url=url) as client:
        for name, (path, body, wrong) in WEBHOOKS.items():
            raw = body()
            if credentials == "missing":
                headers = {"Content-Type": "application/json"}
            elif wrong is None:
                headers = signed_headers(b"not-the-backend-secret-123", raw, "e-forged", now=time.time())
            else:
                headers = {"Content-Type": "application/json", **wrong}
            response = await client.post(path, content=raw, headers=headers)
            assert response.status_code in (401, 403), f"{name} accepted a request with a {credentials} secret"
    queued = [channel for channel in runtime.channels if hasattr(channel, "drain")]
    assert {"telegram", "zalo_bot", "zalo_oa"} <= {channel.name for channel in queued}
    for channel in queued:  # anything wrongly queued has run once each channel is drained
        await channel.drain()
    assert await table_rows(runtime.storage) == before
    assert not fakes["telegram"].calls_to("sendMessage")
    assert not fakes["zalo_bot"].state.sent
    assert not [path for path, _token in fakes["zalo_oa"].api_calls if "message" in path]


async def test_authenticated_webhooks_refuse_deep_json_and_endless_bodies_with_4xx(whole_bot):
    # Issue 20, finding 6: past the secret, Telegram's and Zalo Bot's bodies
    # are still read with a cap and parsed with a nesting limit.
    url, _ = whole_bot
    secrets = {
        "/telegram/webhook": {"X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_WEBHOOK_SECRET"]},
        "/zalo/bot/webhook": {"X-Bot-Api-Secret-Token": SECRETS["ZALO_BOT_WEBHOOK_SECRET"]},
    }

    async def endless():
        for _ in range(200):  # 12.8 MB, with no Content-Length
            yield b" " * 65536

    async with httpx.AsyncClient(base_url=url) as client:
        for path, headers in secrets.items():
            deep = await client.post(path, content=b"[" * 5000 + b"]" * 5000, headers=headers)
            assert deep.status_code == 400, path
            assert (await client.post(path, content=endless(), headers=headers)).status_code == 413, path


# --- staff commands -------------------------------------------------------------
@pytest.mark.parametrize("command", sorted({*COMMANDS, "broadcast"}))
async def test_every_staff_command_from_a_citizen_gets_the_ordinary_answer_and_does_nothing(
    talk, staff, storage, command
):
    citizen = talk("citizen1")
    await citizen.onboard("vi")
    text = f"/{command} admin web:citizen1" if command in ("grant", "revoke") else f"/{command} 1\nMọi người đóng phí"
    assert await staff.handle(Inbound("web", "citizen1", "citizen1", InboundKind.TEXT, text)) is None
    await citizen.say(text)
    assert citizen.text.strip()
    assert "#" not in citizen.text and "admin" not in citizen.text.lower()  # no staff answer leaked
    assert not await staff.roles.roles_of("web", "citizen1")
    rows = await table_rows(storage)
    assert rows["broadcasts"] == [] and rows["roles"] == []
    assert not [row for row in rows["audit_log"] if str(row["action"]).startswith("command.")]
    assert await staff.handle(Inbound(ADMIN[0], ADMIN[1], ADMIN[1], InboundKind.TEXT, f"/{command}")) is not None


async def test_a_forged_broadcast_send_button_from_a_citizen_sends_nothing(talk, staff, storage):
    draft = await staff.broadcasts.create(
        created_by=":".join(ADMIN), text="Thông báo", segment=_everyone(), link=None, at=None, draft=True
    )
    citizen = talk("citizen1")
    await citizen.onboard("vi")
    await citizen.press(f"staff:broadcast:send:{draft.id}")
    assert citizen.text.strip()
    rows = await table_rows(storage)
    assert [row["status"] for row in rows["broadcasts"]] == ["draft"] and rows["broadcast_deliveries"] == []


def _everyone():
    from storage.broadcasts.model import Segment

    return Segment.parse([])


# --- lock-out ---------------------------------------------------------------------
async def test_status_lookups_lock_out_after_repeated_wrong_proofs_even_with_the_right_one(talk, services):
    guesser = talk("guesser")
    await guesser.onboard("vi")
    await guesser.press("menu:open:status")
    for _ in range(services.status_attempt_limit):
        await guesser.say(COMPLETED_CODE)
        await guesser.say("079085001234")  # not the holder's id number
    await guesser.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    assert "menu:open:handoff" in guesser.payloads  # locked: a human is offered instead
    await guesser.say(LAN_ID)  # the right proof, too late
    assert not any(reply.image for reply in guesser.last) and "COMPLETED" not in guesser.text
    other = talk("someone_else")  # the lock is per user, not for everyone
    await other.onboard("vi")
    await other.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    await other.say(LAN_ID)
    assert any(reply.image for reply in other.last)


# --- signed links -------------------------------------------------------------------
async def test_media_links_refuse_tampered_and_expired_tokens(whole_bot):
    url, runtime = whole_bot
    media = runtime.media
    link = media.url_for(Image(b"\x89PNG security test", "alt", "test/picture"))
    token = link.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    async with httpx.AsyncClient() as client:
        assert (await client.get(link)).status_code == 200
        assert (await client.get(link.replace(token, tampered))).status_code in (403, 404)
        assert (await client.get(f"{url}/media/not-a-token")).status_code == 404
        clock = media._clock
        media._clock = lambda: clock() + media.ttl_seconds + 1
        try:
            assert (await client.get(link)).status_code == 410
        finally:
            media._clock = clock


def test_verification_tokens_refuse_tampering_another_key_and_report_expiry():
    key = b"verification-key"
    token = sign_token(key, "cert-123", datetime.now(UTC) + timedelta(days=1))
    assert read_token(key, token).certificate_id == "cert-123"
    payload, mac = token.split(".")
    forged_payload = sign_token(key, "cert-999", datetime.now(UTC) + timedelta(days=1)).split(".")[0]
    assert read_token(key, f"{forged_payload}.{mac}") is None  # another certificate, same signature
    assert read_token(b"another-key", token) is None
    assert read_token(key, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    expired = sign_token(key, "cert-123", datetime.now(UTC) - timedelta(seconds=1))
    assert read_token(key, expired).expires_at < datetime.now(UTC)  # the page then says "expired"


# --- logs ---------------------------------------------------------------------------
def _platform_access_log(record: logging.LogRecord) -> bool:
    """An access-log line of a fake platform's Bot API (a request our bot made to it)."""
    args = record.args if isinstance(record.args, tuple) else ()
    return record.name == "uvicorn.access" and len(args) > 2 and str(args[2]).startswith("/bot")


async def test_logs_of_a_full_conversation_hold_no_id_phone_token_or_secret(whole_bot, fakes, caplog):
    url, runtime = whole_bot
    telegram = fakes["telegram"]
    extra = [
        logging.getLogger(name)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore", "telegram", "telegram.ext")
    ]
    for logger in extra:
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:

        async def step(send, *args, **kwargs):
            count = len(telegram.calls_to("sendMessage")) + len(telegram.calls_to("sendPhoto"))
            await send(*args, **kwargs)
            await telegram.wait_for(
                lambda: len(telegram.calls_to("sendMessage")) + len(telegram.calls_to("sendPhoto")) > count
            )
            await asyncio.sleep(0.2)

        async def press(data):
            await telegram.user_presses_data(data, telegram.last_bot_message())

        await step(telegram.user_says, "/start")
        await step(press, "onboarding:lang:vi")
        await step(press, "onboarding:consent:yes")
        await step(press, "onboarding:province:skip")
        await step(telegram.user_says, f"tra cứu hồ sơ {AWAITING_PAYMENT_CODE}")
        await step(telegram.user_says, LAN_ID)
        await step(press, f"status:notify:{AWAITING_PAYMENT_CODE}")
        await step(telegram.user_says, f"số điện thoại của tôi là {PHONE}, gọi cho tôi nhé")
        await step(telegram.user_shares_contact, "+84912345678")
        await step(telegram.user_says, "/forget")
        for say, sent, user in (
            (fakes["zalo_bot"].user_says, fakes["zalo_bot"].state.sent, "zb-citizen"),
            (fakes["zalo_oa"].user_says, fakes["zalo_oa"].sent, "oa-citizen"),
        ):
            for text in ("/start", "1", f"tra cứu hồ sơ {AWAITING_PAYMENT_CODE}", LAN_ID, f"gọi {PHONE}"):
                count = len(sent)
                await say(user, text)
                await telegram.wait_for(lambda: len(sent) > count)  # noqa: B023  (awaited at once)
                await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=url) as client:
            event = json.dumps(
                {
                    "event_id": "e-log",
                    "type": "request.status_changed",
                    "code": COMPLETED_CODE,
                    "status": "COMPLETED",
                    "label_vi": "Xong",
                    "label_en": "Done",
                }
            ).encode()
            signed = signed_headers(runtime.webhook_secret, event, "e-log", now=time.time())
            assert (await client.post("/hooks/backend", content=event, headers=signed)).status_code == 200
            await client.post(
                "/telegram/webhook",
                content=b"{}",
                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong-" + SECRETS["TELEGRAM_WEBHOOK_SECRET"]},
            )
    finally:
        for logger in extra:
            logger.removeHandler(caplog.handler)
            logger.setLevel(logging.NOTSET)
    shown = "\n".join(message.text for message in telegram.bot_messages(42))
    assert AWAITING_PAYMENT_CODE in shown and "/verify/" not in shown  # the lookup really ran
    # The fake platforms serve their Bot APIs (`/bot<token>/<method>`) from this
    # process too: their access log is the platform's, not ours.
    records = [record for record in caplog.records if not _platform_access_log(record)]
    assert len(records) > 10, "the conversation should have logged something"
    logged = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in records)
    secrets = [
        value for name, value in fakes["secrets"].items() if name != "ZALO_OA_APP_ID" and not value.startswith("http")
    ]  # the app id is public
    secrets += [DEFAULT_TOKEN.split(":", 1)[1], ZALO_BOT_TOKEN.split(":", 1)[1], runtime.webhook_secret.decode()]
    for secret in secrets:
        assert secret not in logged, f"a token or secret reached the logs: {secret[:6]}…"
    compact = re.sub(r"[ .\-]", "", logged)
    for number in (LAN_ID, PHONE, "84912345678"):
        assert number not in compact, f"an id or phone number ({number[:3]}…) reached the logs"
    # Links that carry a bearer token (certificate verification, media, payment).
    leaked = [
        f"{record.name}: {record.getMessage()[:300]}"
        for record in records
        if re.search(r"/(verify|media|pay)/[A-Za-z0-9_\-.]{16,}", record.getMessage())
    ]
    assert not leaked, f"a signed link reached the logs: {leaked[:3]}"


# --- forget me ------------------------------------------------------------------------
async def test_forget_removes_everything_stored_about_the_user_from_every_table(talk, storage):
    user = "forgetme77"
    chat = talk(user)
    await chat.onboard("vi")
    await chat.press("onboarding:province:set:79")
    await chat.say(f"tra cứu hồ sơ {AWAITING_PAYMENT_CODE}")
    await chat.say(LAN_ID)
    await chat.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    await chat.press("handoff:ask")
    await chat.say("Cho tôi hỏi khi nào có kết quả?")
    await chat.say("xin chào")
    before = await table_rows(storage)
    assert user in json.dumps(before, default=str)  # the scenario did store things about them
    await chat.say("/forget")
    await chat.press("menu:forget:yes")
    after = await table_rows(storage)
    pseudonym = storage.pseudonym("web", user)
    # seen_updates holds platform update ids only (no user column; pruned
    # after two days); this test's driver happens to build them from the user id.
    for table, rows in after.items():
        if table == "seen_updates":
            continue
        for row in rows:
            text = json.dumps(row, default=str)
            assert user not in text, f"{table} still holds the user: {text[:200]}"
            assert pseudonym not in text or table == "audit_log", f"{table} still holds the user's analytics key"
    assert await storage.subscribers(AWAITING_PAYMENT_CODE) == []
