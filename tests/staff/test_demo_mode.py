"""`troly demo new|reset` against the real mock backend on a loopback port."""

from __future__ import annotations

import argparse
import json
import random
from datetime import date

import pytest

from backend.domain import OwnershipProof
from backend.keys import ADMIN_TOKEN_ENV
from backend.runner import start_server
from backend.server import create_app
from backend.settings import MockSettings
from bot.config import Settings
from bot.demo_cli import _context, make_persona, new_demo, reset_demo
from bot.wiring import mock_settings_from_config


@pytest.fixture
async def mock(tmp_path):
    settings = MockSettings(database=str(tmp_path / "mock.sqlite3"), signing_key=b"k", webhook_secret=b"w",
                            admin_token="demo-admin", tick_seconds=0.05, demo_mode=True)  # fmt: skip
    running = await start_server(create_app(settings), "127.0.0.1", 0)
    yield running
    await running.stop()


ADMIN = {"Authorization": "Bearer demo-admin"}


async def test_demo_persona_request_moves_to_completed_and_the_printed_proof_opens_it(mock, tmp_path, capsys):
    state = tmp_path / "demo.json"
    assert await new_demo(mock.url, ADMIN, state, step_seconds=0.01, follow=True, randomness=random.Random(7)) == 0
    printed = capsys.readouterr().out
    persona = json.loads(state.read_text(encoding="utf-8"))
    assert persona["code"] in printed and persona["id_number"][-4:] in printed
    for status in ("AWAITING_PAYMENT", "RECEIVED", "PROCESSING", "COMPLETED"):
        assert f"status: {status}" in printed
    proof = OwnershipProof(None, persona["id_number"][-4:], date.fromisoformat(persona["birth_date"]))
    assert mock.service.lookup(persona["code"], proof)["status"] == "COMPLETED"


async def test_demo_reset_removes_the_persona_and_a_new_one_starts_fresh(mock, tmp_path, capsys):
    state = tmp_path / "demo.json"
    await new_demo(mock.url, ADMIN, state, step_seconds=0.01, follow=False, randomness=random.Random(1))
    first = json.loads(state.read_text(encoding="utf-8"))["code"]
    assert mock.service.status_of(first) == "AWAITING_PAYMENT"
    assert await reset_demo(mock.url, ADMIN, state) == 0
    assert mock.service.status_of(first) is None and not state.exists()
    assert await reset_demo(mock.url, ADMIN, state) == 0
    assert "no demo persona" in capsys.readouterr().out


async def test_demo_without_the_admin_token_is_refused_politely(mock, tmp_path, capsys):
    state = tmp_path / "demo.json"
    await new_demo(mock.url, ADMIN, state, step_seconds=0.01, follow=False)
    assert await new_demo(mock.url, {}, tmp_path / "other.json", step_seconds=0.01, follow=True) in (0, 1)
    assert "could not move on" in capsys.readouterr().out


async def test_demo_with_no_backend_running_says_so(tmp_path, capsys):
    code = await new_demo("http://127.0.0.1:9", {}, tmp_path / "demo.json", step_seconds=0.01, follow=False)
    assert code == 1 and "not reachable" in capsys.readouterr().out


def test_demo_persona_has_a_well_formed_id_and_birth_date():
    persona = make_persona(random.Random(3))
    assert len(persona.id_number) == 12 and persona.id_number.isdigit()
    assert persona.id_number[4:6] == persona.birth_date[2:4]


async def test_demo_uses_the_token_the_mock_generated_when_none_is_set(tmp_path, monkeypatch, capsys):
    """Issue 20, finding 1: the mock's /admin is never open, yet `troly demo`
    keeps working by reading the token `troly run` generated into var/."""
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    monkeypatch.setattr("bot.wiring.PROJECT_ROOT", tmp_path)
    settings = mock_settings_from_config(Settings().backend, tmp_path, str(tmp_path / "mock.sqlite3"))
    settings.tick_seconds = 0.05
    running = await start_server(create_app(settings), "127.0.0.1", 0)
    try:
        args = argparse.Namespace(config=str(tmp_path / "none.yml"), backend=running.url, state=None)
        url, headers, _state = _context(args)
        state = tmp_path / "demo.json"
        assert await new_demo(url, headers, state, step_seconds=0.01, follow=True) == 0
        code = json.loads(state.read_text(encoding="utf-8"))["code"]
        assert running.service.status_of(code) == "COMPLETED"
        assert settings.admin_token not in capsys.readouterr().out
    finally:
        await running.stop()
