"""Issue 20, finding 6: the mock's simulation endpoints have no authentication
(filing a request for anyone, an unsigned payment callback, the VNeID form
simulator). They answer only in demo mode, which `make run` uses; outside it
they are refused and change nothing."""

from __future__ import annotations

import httpx
import pytest

from backend.runner import start_server
from backend.server import create_app
from bot.config import DEFAULT_CONFIG, load_settings
from bot.wiring import mock_settings_from_config
from tests.backend.conftest import ADMIN, DEMO, TRAINEE, make_settings

AWAITING_CODE, AWAITING_PROOF = DEMO["AWAITING_PAYMENT"]
SIMULATOR_FORM = {
    "province_code": "01",
    "certificate_type": "1",
    "purpose": "Bổ sung hồ sơ xin việc",
    "paper_copies": "0",
    "delivery": "electronic",
    "fee_group": "standard",
    "scenario": "normal",
    "consent": "yes",
}


@pytest.fixture
async def not_demo(tmp_path):
    """The real mock over HTTP with demo mode off (the admin token is sent:
    it must not open the simulation either)."""
    running = await start_server(create_app(make_settings(tmp_path, demo_mode=False)))
    async with httpx.AsyncClient(base_url=running.url, timeout=5, headers=ADMIN) as client:
        yield running, client
    await running.stop()
    running.service.close()


async def test_filing_a_request_is_refused_outside_demo_mode_and_files_nothing(not_demo):
    running, http = not_demo
    refused = await http.post("/api/v1/requests", json=TRAINEE)
    assert refused.status_code == 403 and refused.json()["error"] == "demo_mode_only"
    count = running.service.db.execute("SELECT COUNT(*) FROM citizens WHERE full_name = ?", (TRAINEE["full_name"],))
    assert count.fetchone()[0] == 0


async def test_the_unsigned_payment_callback_is_refused_outside_demo_mode_and_the_payment_stays_pending(not_demo):
    running, http = not_demo
    proof = AWAITING_PROOF.as_json()
    started = await http.post(f"/api/v1/requests/{AWAITING_CODE}/payments", json=proof)
    assert started.status_code == 201  # paying through the citizen API still works
    payment_id = started.json()["pay_url"].rsplit("/", 1)[1]
    for attempt in ({"json": {"result": "success"}}, {"data": {"result": "success"}}):
        refused = await http.post(f"/pay/{payment_id}/callback", **attempt)
        assert refused.status_code == 403 and refused.json()["error"] == "demo_mode_only"
    view = (await http.post(f"/api/v1/requests/{AWAITING_CODE}/status", json=proof)).json()
    assert view["status"] == "AWAITING_PAYMENT" and view["payment"]["state"] == "pending"


async def test_the_form_simulator_is_refused_outside_demo_mode(not_demo):
    running, http = not_demo
    for method, path, data in (
        ("GET", "/simulator", None),
        ("POST", "/simulator/confirm", SIMULATOR_FORM),
        ("POST", "/simulator/submit", SIMULATOR_FORM),
    ):
        response = await http.request(method, path, data=data)
        assert response.status_code == 403, (path, response.text)
    assert (
        running.service.db.execute("SELECT COUNT(*) FROM citizens WHERE full_name LIKE 'Học Viên%'").fetchone()[0] == 0
    )


async def test_the_offline_demo_runs_the_mock_in_demo_mode_and_config_can_turn_it_off(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.wiring.PROJECT_ROOT", tmp_path)  # generated keys go to tmp_path/var
    assert mock_settings_from_config(load_settings(DEFAULT_CONFIG).backend, tmp_path).demo_mode  # as `make run`
    off = tmp_path / "off.yml"
    off.write_text("backend:\n  mock_demo_mode: false\n", encoding="utf-8")
    assert not mock_settings_from_config(load_settings(off).backend, tmp_path).demo_mode
