"""Test doubles and a chat driver for dialogue tests.

`ScriptedInterpreter` stands in for the NLU with keyword rules (Rasa-shaped
results); `FakeKnowledge` answers every topic with a marked, sourced text;
storage is the real `SqlStorage` on a temporary SQLite file, and the backend
is the real mock service in memory (`FakeBackendClient`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import count
from pathlib import Path
from types import SimpleNamespace

from backend.client import FakeBackendClient
from backend.service import MockGovernment
from backend.settings import MockSettings
from bot.dispatcher import Dispatcher
from core.messages import Inbound, InboundKind, Reply
from flows.base import Services
from flows.texts import texts
from tests.tools import demo_url

COMPLETED_CODE = "000.00.01.H01-261103-0012"  # Nguyễn Thị Lan, seeded COMPLETED
AWAITING_PAYMENT_CODE = "000.00.01.H01-261120-0001"
LAN_ID = "001190004567"
LAN_LAST4_AND_BIRTH = "4567 14/03/1990"


class ScriptedInterpreter:
    """Keyword -> intent; anything else is `nlu_fallback` with a ranking."""

    RULES = [
        ("phí", "fee_info"),
        ("fee", "fee_info"),
        ("tra cứu", "check_status"),
        ("status", "check_status"),
        ("hồ sơ", "check_status"),
        ("hướng dẫn", "request_guide"),
        ("how do i", "request_guide"),
        ("bao lâu", "processing_time"),
        ("how long", "processing_time"),
        ("cán bộ", "human_handoff"),
        ("officer", "human_handoff"),
        ("xin chào", "greet"),
        ("hello", "greet"),
        ("cảm ơn", "thanks"),
        ("thank", "thanks"),
        ("thời tiết", "out_of_scope"),
        ("weather", "out_of_scope"),
        ("cài", "account_help"),
    ]

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def parse(self, text: str) -> dict:
        self.seen.append(text)
        lowered = text.lower()
        for keyword, intent in self.RULES:
            if keyword in lowered:
                entities = []
                from nlu.entities import find_request_code

                code = find_request_code(text)
                if code:
                    entities.append({"entity": "request_code", "value": code})
                return {
                    "text": text,
                    "intent": {"name": intent, "confidence": 0.9},
                    "entities": entities,
                    "intent_ranking": [{"name": intent, "confidence": 0.9}],
                }
        return {
            "text": text,
            "intent": {"name": "nlu_fallback", "confidence": 0.3},
            "entities": [],
            "intent_ranking": [
                {"name": "fee_info", "confidence": 0.3},
                {"name": "processing_time", "confidence": 0.28},
                {"name": "greet", "confidence": 0.1},
            ],
        }


@dataclass
class FakeSource:
    title: str
    url: str


@dataclass
class FakeAnswer:
    text: str
    sources: list
    as_of: date
    confidence: str = "high"


def _answer(text: str, topic: str) -> FakeAnswer:
    return FakeAnswer(text, [FakeSource(topic, f"https://example.gov.vn/{topic}")], date(2026, 11, 1))


@dataclass
class FakeStep:
    title: str
    body: str
    problems: list
    image_key: str
    screen_header: str = ""
    screen_items: list = field(default_factory=list)
    screen_highlight: int = -1


@dataclass
class FakeRecord:
    key: str

    def answer(self, lang: str) -> FakeAnswer:
        return _answer(f"[{lang}] {self.key}", self.key)


@dataclass
class FakeKeyed:
    record: FakeRecord


class FakeKnowledge:
    """The knowledge base's interface, with marked texts the tests can find."""

    def answer(self, topic: str, lang: str, on: date | None = None) -> FakeAnswer:
        return _answer(f"[{lang}] answer about {topic}", topic)

    def guide_steps(self, lang: str, on: date | None = None) -> list[FakeStep]:
        return [
            FakeStep(f"[{lang}] step {n}", f"body {n}", [f"problem {n}"] if n != 2 else [], f"step-{n}")
            for n in (1, 2, 3)
        ]

    def guide_step_named(self, text: str, on: date | None = None) -> int | None:
        return None

    def purpose_named(self, text: str, on: date | None = None) -> str | None:
        return None

    def status_explanation(self, status: str, lang: str, on: date | None = None):
        return SimpleNamespace(plain=f"[{lang}] what {status} means", next_step=f"[{lang}] next after {status}")

    def eligibility(self, on: date | None = None):
        keyed = lambda *keys: {k: FakeKeyed(FakeRecord(prefix + k)) for prefix, k in keys}  # noqa: E731
        return SimpleNamespace(
            how_to_get_level2=FakeRecord("how_to_get_level2"),
            age_rule=FakeRecord("age_rule"),
            requesters=keyed(("requester_", "child_under_14"), ("requester_", "other_adult")),
            purposes=keyed(*(("purpose_", p) for p in ("job", "own_record", "visa", "other"))),
        )

    def payment_help(self, lang: str, on: date | None = None):
        return SimpleNamespace(
            how_to_pay=_answer(f"[{lang}] how_to_pay", "how_to_pay"),
            if_failed=_answer(f"[{lang}] payment if_failed", "if_failed"),
            failed_steps=["check online payment is on", "do not pay twice"],
        )

    def status_note(self, name: str, lang: str, on: date | None = None, **values: object) -> FakeAnswer:
        return _answer(f"[{lang}] note {name} {values}", name)

    def contacts(self, province_code: str | None, lang: str, on: date | None = None):
        return SimpleNamespace(
            receiving_unit=f"[{lang}] receiving unit of province {province_code}",
            text=f"[{lang}] hotline 1900 0368 (province {province_code})",
            sources=[FakeSource("contacts", "https://example.gov.vn/contacts")],
            as_of=date(2026, 11, 1),
        )

    def safety(self, lang: str, on: date | None = None) -> FakeAnswer:
        return _answer(f"[{lang}] install VNeID only from the official stores, no APK", "safety")

    def secret_warning(self, lang: str, on: date | None = None) -> str:
        return f"[{lang}] never share your password, passcode or OTP"


def tiny_png(index: int, lang: str) -> bytes:
    return b"\x89PNG fake " + f"{index}{lang}".encode()


def fake_backend(public_url: str = demo_url(8090)) -> FakeBackendClient:
    """The mock in memory, its certificate links signed for `public_url`: by
    default a name phones could open (tests/tools.py DEMO_HOST), so the bot
    sends the QR code; a loopback address gets the link alone."""
    return FakeBackendClient(MockGovernment(MockSettings(database=":memory:", public_url=public_url)))


def make_services(storage, backend=None, knowledge=None, nlu=None, today=date(2026, 11, 23)) -> Services:
    from storage.feedback import FeedbackStore

    return Services(
        storage=storage,
        feedback=FeedbackStore(storage),
        texts=texts(),
        nlu=nlu or ScriptedInterpreter(),
        backend=backend or fake_backend(),
        knowledge=knowledge or FakeKnowledge(),
        today=lambda: today,
        illustrations=tiny_png,
    )


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'troly.sqlite3'}"


@dataclass
class Chat:
    """One user talking to the dispatcher, as a channel without buttons would."""

    dispatcher: Dispatcher
    user_id: str = "u1"
    channel: str = "web"
    last: list[Reply] = field(default_factory=list)
    _ids: count = field(default_factory=lambda: count(1))

    async def _send(self, **fields) -> list[Reply]:
        inbound = Inbound(
            channel=self.channel,
            user_id=self.user_id,
            chat_id=self.user_id,
            update_id=f"{self.user_id}-{next(self._ids)}",
            **fields,
        )
        self.last = await self.dispatcher.handle(inbound)
        return self.last

    async def say(self, text: str) -> list[Reply]:
        return await self._send(kind=InboundKind.TEXT, text=text)

    async def press(self, payload: str) -> list[Reply]:
        return await self._send(kind=InboundKind.BUTTON, payload=payload)

    async def start(self, payload: str = "") -> list[Reply]:
        return await self._send(kind=InboundKind.START, payload=payload)

    @property
    def text(self) -> str:
        return "\n".join(reply.text for reply in self.last)

    @property
    def payloads(self) -> list[str]:
        return [button.payload for reply in self.last for button in reply.all_buttons]

    async def onboard(self, lang: str = "vi", consent: bool = True) -> None:
        await self.start()
        await self.press(f"onboarding:lang:{lang}")
        await self.press("onboarding:consent:yes" if consent else "onboarding:consent:no")
        if consent:
            await self.press("onboarding:province:skip")
