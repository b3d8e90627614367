"""Guessing a request's proof of ownership (issue 20, finding 4): wrong
proofs are counted per request code and per client address; past the limit
even the right proof gets 429 until the window has passed."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from backend.server import create_app
from tests.backend.conftest import DEMO, LAN

CODE, PROOF = DEMO["COMPLETED"]
OTHER_CODE, OTHER_PROOF = DEMO["PROCESSING"]
WRONG = {"id_last4": "0000", "birth_date": "1990-03-14"}  # the birth date known, the last 4 guessed


class Clock:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.state.proof_throttle.now = app.state.clock = Clock()
    yield app
    app.state.service.close()


@contextlib.asynccontextmanager
async def client_at(app, address: str):
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        yield client


async def status(client, code, proof: dict) -> httpx.Response:
    return await client.post(f"/api/v1/requests/{code}/status", json=proof)


async def test_ten_wrong_proofs_then_the_right_one_is_refused_over_http(http):
    answers = [(await status(http, CODE, WRONG)).status_code for _ in range(10)]
    assert answers == [404] * 5 + [429] * 5
    right = await status(http, CODE, LAN.as_json())
    assert right.status_code == 429 and "certificate" not in right.json()
    body = right.json()
    assert body["error"] == "too_many_attempts" and "15 phút" in body["message_vi"] and body["message_en"]
    assert 0 < int(right.headers["Retry-After"]) <= 15 * 60 == body["retry_after_seconds"]


async def test_a_second_client_cannot_keep_guessing_a_locked_code(app):
    async with client_at(app, "10.0.0.1") as first, client_at(app, "10.0.0.2") as second:
        for _ in range(5):
            assert (await status(first, CODE, WRONG)).status_code == 404
        assert (await status(second, CODE, WRONG)).status_code == 429
        assert (await status(second, CODE, PROOF.as_json())).status_code == 429
        # Other requests are not locked by it: their holders are not hurt.
        assert (await status(second, OTHER_CODE, OTHER_PROOF.as_json())).status_code == 200


async def test_one_client_guessing_many_codes_is_locked_out(app):
    async with client_at(app, "10.0.0.3") as guesser, client_at(app, "10.0.0.4") as holder:
        codes = [code for code, _ in DEMO.values()]
        answers = [(await status(guesser, codes[n % len(codes)], WRONG)).status_code for n in range(20)]
        assert answers == [404] * 20  # no code tried 5 times: the client's own limit
        assert (await status(guesser, OTHER_CODE, OTHER_PROOF.as_json())).status_code == 429
        assert (await status(holder, OTHER_CODE, OTHER_PROOF.as_json())).status_code == 200


async def test_the_holder_succeeds_once_the_lock_out_is_over(app):
    clock = app.state.clock
    async with client_at(app, "10.0.0.5") as guesser, client_at(app, "10.0.0.6") as holder:
        for _ in range(5):
            await status(guesser, CODE, WRONG)
        clock.at += 14 * 60
        assert (await status(holder, CODE, PROOF.as_json())).status_code == 429  # 15 minutes, not less
        clock.at += 61
        answer = await status(holder, CODE, PROOF.as_json())
        assert answer.status_code == 200 and answer.json()["status"] == "COMPLETED"


async def test_wrong_proofs_for_a_payment_count_too(app):
    code, proof = DEMO["AWAITING_PAYMENT"]
    async with client_at(app, "10.0.0.7") as guesser:
        for _ in range(5):
            assert (await guesser.post(f"/api/v1/requests/{code}/payments", json=WRONG)).status_code == 404
        assert (await guesser.post(f"/api/v1/requests/{code}/payments", json=proof.as_json())).status_code == 429


async def test_the_bot_on_loopback_is_limited_per_code_only(app):
    # Every citizen's lookup comes from the bot's one address: 25 wrong
    # proofs spread over codes lock none of them, nor the bot.
    async with client_at(app, "127.0.0.1") as bot:
        codes = [code for code, _ in DEMO.values()]
        answers = [(await status(bot, codes[n % len(codes)], WRONG)).status_code for n in range(25)]
        assert answers == [404] * 25
        assert (await status(bot, OTHER_CODE, OTHER_PROOF.as_json())).status_code == 200
