"""Issue 20, finding 1: the mock's /admin routes (advance a request, revoke
a certificate, delete a request, switch the service down) answer only to
the admin token, whatever is configured, and `troly run --lan` never leaves
them open: with no token set, one is generated into var/ (0600)."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from backend.keys import ADMIN_TOKEN_ENV
from backend.server import create_app
from bot.config import Settings
from bot.run_cli import lan_settings
from bot.wiring import admin_token_file, admin_token_notice, mock_admin_token, mock_settings_from_config
from tests.backend.conftest import DEMO, make_settings

CODE = DEMO["PROCESSING"][0]


def admin_calls(app) -> list[tuple[str, str, dict]]:
    """Every /admin route of the app with every method, a real code in the
    path and a body that would act (so an open route would do harm)."""
    bodies = {"/admin/clock": {"advance_hours": 48}, "/admin/faults": {"down": True}}
    calls = []
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/admin"):
            continue
        for method in sorted(operations):
            concrete = re.sub(r"\{[^}]+\}", CODE, path)
            body = bodies.get(path, {"steps": 5} if path.endswith("/advance") else {"code": CODE})
            calls.append((method.upper(), concrete, body))
    assert len(calls) >= 6, calls  # clock, advance, delete, faults, revoke, webhooks
    return calls


async def _statuses(settings, headers: dict[str, str]) -> dict[str, int]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mock", headers=headers) as client:
            statuses = {}
            for method, path, body in admin_calls(app):
                sent = {"json": body} if method in ("POST", "PUT") else {}
                statuses[f"{method} {path}"] = (await client.request(method, path, **sent)).status_code
            # Nothing happened: the request did not move and the service is up.
            assert app.state.service.status_of(CODE) == "PROCESSING" or 401 not in statuses.values()
            return statuses
    finally:
        app.state.service.close()


@pytest.mark.parametrize("configured", [None, "", "   "])
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}, {"Authorization": "x"}]
)
async def test_with_no_admin_token_configured_every_admin_route_is_refused(tmp_path, configured, headers):
    statuses = await _statuses(make_settings(tmp_path, admin_token=configured), headers)
    assert set(statuses.values()) == {401}, statuses


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}])
async def test_a_missing_or_wrong_token_is_refused_on_every_admin_route(tmp_path, headers):
    statuses = await _statuses(make_settings(tmp_path, admin_token="s3cret"), headers)
    assert set(statuses.values()) == {401}, statuses


async def test_the_right_token_works(tmp_path):
    statuses = await _statuses(make_settings(tmp_path, admin_token="s3cret"), {"Authorization": "Bearer s3cret"})
    assert 401 not in statuses.values() and statuses[f"POST /admin/requests/{CODE}/advance"] == 200


@pytest.mark.parametrize("path", ["//admin/clock", "/ADMIN/clock", "/admin/../admin/clock"])
async def test_other_spellings_of_admin_are_refused_too(tmp_path, path):
    app = create_app(make_settings(tmp_path, admin_token="s3cret"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
        assert (await client.get(path)).status_code in (401, 404)
    app.state.service.close()


def test_with_no_token_in_the_environment_one_is_generated_private_and_kept(tmp_path, monkeypatch):
    for blank in (None, "", "  "):
        if blank is None:
            monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
        else:
            monkeypatch.setenv(ADMIN_TOKEN_ENV, blank)
        mock = mock_settings_from_config(Settings().backend, tmp_path)
        assert mock.admin_token and len(mock.admin_token) >= 32
        assert mock.admin_token == mock_admin_token(tmp_path)  # what `troly demo` sends
        assert os.stat(admin_token_file(tmp_path)).st_mode & 0o077 == 0
        notice = admin_token_notice(tmp_path)
        assert str(admin_token_file(tmp_path)) in notice and mock.admin_token not in notice


def test_a_token_from_the_environment_is_used_and_not_printed(tmp_path, monkeypatch):
    monkeypatch.setenv(ADMIN_TOKEN_ENV, "from-env-token")
    assert mock_settings_from_config(Settings().backend, tmp_path).admin_token == "from-env-token"
    assert ADMIN_TOKEN_ENV in admin_token_notice(tmp_path) and "from-env-token" not in admin_token_notice(tmp_path)
    assert not admin_token_file(tmp_path).exists()


async def test_lan_mode_never_leaves_the_admin_routes_open(tmp_path, monkeypatch):
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    settings, host = lan_settings(Settings(), 8080, ip="192.168.137.1")
    assert host == settings.backend.mock_host == "0.0.0.0"
    mock = mock_settings_from_config(settings.backend, tmp_path, str(tmp_path / "mock.sqlite3"))
    assert (await _statuses(mock, {})) and set((await _statuses(mock, {})).values()) == {401}
    opened = await _statuses(mock, {"Authorization": f"Bearer {mock_admin_token(tmp_path)}"})
    assert 401 not in opened.values()
