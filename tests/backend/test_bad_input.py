"""Bad input to every endpoint gets a 4xx with a clear message, never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.backend.conftest import DEMO, MINH, TRAINEE

CODE = DEMO["PROCESSING"][0]
STATUS = f"/api/v1/requests/{CODE}/status"
PAY = f"/api/v1/requests/{DEMO['AWAITING_PAYMENT'][0]}/payments"
HUGE = {"id_number": "0" * 12, "padding": "x" * 20_000}
SIM = {
    "province_code": "01",
    "certificate_type": "1",
    "purpose": "Xin việc",
    "paper_copies": "0",
    "delivery": "electronic",
    "fee_group": "standard",
    "scenario": "normal",
}

CASES = [
    # (method, path, kwargs, expected status)
    ("POST", STATUS, {"json": {"id_last4": 1234, "birth_date": "1985-07-02"}}, 422),
    ("POST", STATUS, {"json": {"id_last4": "1234", "birth_date": "hôm qua"}}, 422),
    ("POST", STATUS, {"json": {**MINH.as_json(), "admin": True}}, 422),
    ("POST", STATUS, {"json": {"id_last4": "1234"}}, 400),
    ("POST", STATUS, {"json": {}}, 400),
    ("POST", STATUS, {"json": ["not", "an", "object"]}, 422),
    ("POST", STATUS, {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
    ("POST", STATUS, {"json": HUGE}, 413),
    ("POST", "/api/v1/requests/000.00.79.H79-261115-07/status", {"json": MINH.as_json()}, 400),
    ("POST", "/api/v1/requests/%00%FF/status", {"json": MINH.as_json()}, 400),
    ("POST", "/api/v1/requests/" + "9" * 5000 + "/status", {"json": MINH.as_json()}, 400),
    ("POST", PAY, {"json": {"id_number": 79085001234}}, 422),
    ("POST", PAY, {"json": {"id_number": "079085001234", "amount": 1}}, 422),
    ("POST", PAY, {"json": HUGE}, 413),
    ("POST", "/api/v1/requests/bad-code/payments", {"json": MINH.as_json()}, 400),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "certificate_type": 3}}, 422),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "certificate_type": "1"}}, 422),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "paper_copies": -1}}, 422),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "province_code": "99"}}, 400),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "delivery": "post"}}, 400),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "scenario": "lottery"}}, 422),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "role": "admin"}}, 422),
    ("POST", "/api/v1/requests", {"json": {**TRAINEE, "purpose": "x" * 20_000}}, 413),
    ("GET", "/pay/no-such-payment", {}, 404),
    ("GET", "/pay/" + "p" * 3000, {}, 404),
    ("POST", "/pay/no-such-payment/callback", {"json": {"result": "success"}}, 404),
    ("POST", "/pay/whatever/callback", {"json": {"result": "maybe"}}, 422),
    ("POST", "/pay/whatever/callback", {"content": b"[1,2]", "headers": {"content-type": "application/json"}}, 422),
    ("POST", "/pay/whatever/callback", {"data": {"result": "steal"}}, 422),
    ("POST", "/simulator/confirm", {"data": {**SIM, "paper_copies": "nhiều"}}, 422),
    ("POST", "/simulator/confirm", {"data": {**SIM, "province_code": "99"}}, 422),
    ("POST", "/simulator/confirm", {"data": {"purpose": "Xin việc"}}, 422),
    ("POST", "/simulator/confirm", {"data": {**SIM, "delivery": "post"}}, 422),
    ("POST", "/simulator/submit", {"data": SIM}, 422),
    ("POST", "/simulator/submit", {"data": {**SIM, "consent": "no"}}, 422),
    ("GET", "/simulator/done/unknown", {}, 404),
    ("POST", "/admin/clock", {"json": {"advance_hours": -5}}, 422),
    ("POST", "/admin/clock", {"json": {"advance_hours": "one day"}}, 422),
    ("POST", "/admin/clock", {"json": {"speed": 0}}, 422),
    ("POST", "/admin/clock", {"json": {"rewind": 1}}, 422),
    ("POST", "/admin/requests/bad/advance", {"json": {"steps": 1}}, 400),
    ("POST", f"/admin/requests/{CODE}/advance", {"json": {"steps": 0}}, 422),
    ("POST", "/admin/requests/000.00.79.H79-261115-0999/advance", {"json": {"steps": 1}}, 404),
    ("PUT", "/admin/faults", {"json": {"error_rate": 2}}, 422),
    ("PUT", "/admin/faults", {"json": {"down": "yes"}}, 422),
    ("PUT", "/admin/faults", {"json": {"explode": True}}, 422),
    ("POST", "/admin/certificates/revoke", {"data": {}}, 422),
    ("POST", "/admin/certificates/revoke", {"data": {"number": "nope"}}, 404),
    ("POST", STATUS, {"json": MINH.as_json(), "headers": {"X-Mock-Fault": "explode"}}, 400),
    ("GET", "/no/such/page", {}, 404),
    ("DELETE", STATUS, {}, 405),
]


@pytest.mark.parametrize(
    "method, path, kwargs, expected", CASES, ids=[f"{c[0]} {c[1][:45]} #{i}" for i, c in enumerate(CASES)]
)
async def test_bad_input_gets_a_clear_4xx(asgi, method, path, kwargs, expected):
    response = await asgi.request(method, path, **kwargs)
    assert response.status_code == expected, response.text
    body = response.json()
    assert body["error"] and body["message_vi"] and body["message_en"]


async def test_a_huge_chunked_body_without_length_is_refused(asgi):
    async def chunks():
        for _ in range(40):
            yield b"x" * 1024

    response = await asgi.post(STATUS, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


async def test_a_garbage_verification_token_is_an_unknown_certificate_not_an_error(asgi):
    response = await asgi.get("/verify/" + "%FF" * 50, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json() == {"state": "unknown"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=json_values
    | st.fixed_dictionaries(
        {}, optional={"id_number": json_values, "id_last4": json_values, "birth_date": json_values}
    ),
    code=st.text(max_size=40),
)
async def test_random_lookup_input_never_causes_a_server_error(asgi, body, code):
    from urllib.parse import quote

    response = await asgi.post(
        f"/api/v1/requests/{quote(code, safe='') or 'x'}/status",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert response.status_code < 500


async def test_extreme_but_valid_demo_controls_still_answer(asgi):
    assert (await asgi.post("/admin/clock", json={"advance_hours": 87600})).status_code == 200
    assert (await asgi.post("/admin/clock", json={"speed": 100000})).status_code == 200
    code, proof = DEMO["COMPLETED"]
    response = await asgi.post(f"/api/v1/requests/{code}/status", json=proof.as_json())
    assert response.status_code == 200
