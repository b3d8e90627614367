"""The VNeID training simulator files a request end to end; demo controls
fast-forward the clock or one request; the fake client mirrors outages."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from backend.client import BackendClient, BackendUnavailable, FakeBackendClient, OwnershipProof, RequestStatus
from backend.service import MockGovernment
from tests.backend.conftest import DEMO

FORM = {
    "province_code": "46",
    "certificate_type": "2",
    "purpose": "Xem lý lịch của bản thân",
    "paper_copies": "3",
    "delivery": "post",
    "address": "1 Lê Lợi, Huế",
    "fee_group": "standard",
    "scenario": "needs_info",
}


async def test_trainee_walks_the_simulator_from_form_to_payment_and_can_look_it_up(backend, http):
    form = await http.get("/simulator")
    assert form.status_code == 200 and "MÔ PHỎNG" in form.text and "Phiếu số 2" in form.text
    confirm = await http.post("/simulator/confirm", data=FORM)
    assert confirm.status_code == 200
    assert "Công an Thành phố Huế" in confirm.text and "205.000 đ" in confirm.text
    submitted = await http.post("/simulator/submit", data={**FORM, "consent": "yes"})
    assert submitted.status_code == 303 and submitted.headers["location"].startswith("/pay/")
    pay_page = await http.get(submitted.headers["location"])
    assert "NAPAS" in pay_page.text
    payment_id = submitted.headers["location"].split("/")[2].split("?")[0]
    return_to = re.search(r'name="return_to" value="([^"]+)"', pay_page.text).group(1)
    paid = await http.post(f"/pay/{payment_id}/callback", data={"result": "success", "return_to": return_to})
    assert paid.status_code == 303
    done = await http.get(paid.headers["location"])
    assert "Đã tiếp nhận" in done.text
    code = re.search(r"000\.00\.46\.H46-\d{6}-\d{4}", done.text).group(0)
    last4 = re.search(r"<dt>4 số cuối CCCD</dt><dd>(\d{4})</dd>", done.text).group(1)
    day, month, year = re.search(r"<dt>Ngày sinh</dt><dd>(\d\d)/(\d\d)/(\d{4})</dd>", done.text).groups()
    proof = OwnershipProof(id_last4=last4, birth_date=date(int(year), int(month), int(day)))
    async with BackendClient(backend.url) as client:
        view = await client.lookup(code, proof)
    assert view.status == RequestStatus.RECEIVED and view.delivery == "post" and view.paper_copies == 3


async def test_the_whole_clock_can_be_fast_forwarded(backend, http):
    created = (
        await http.post(
            "/api/v1/requests",
            json={
                "full_name": "Người Dân Mẫu",
                "id_number": "001090123456",
                "birth_date": "1990-01-01",
                "province_code": "01",
                "certificate_type": 1,
                "purpose": "Xin việc",
                "fee_group": "exempt",
            },
        )
    ).json()
    assert created["status"] == "RECEIVED"
    before = (await http.get("/admin/clock")).json()
    after = (await http.post("/admin/clock", json={"advance_hours": 48})).json()
    assert after["now"] > before["now"]
    view = (await http.post(f"/api/v1/requests/{created['code']}/status", json={"id_number": "001090123456"})).json()
    assert view["status"] == "COMPLETED"


async def test_one_demo_request_can_be_fast_forwarded(http):
    code, proof = DEMO["NEEDS_INFO"]
    moved = await http.post(f"/admin/requests/{code}/advance", json={"steps": 2})
    assert moved.json()["status"] == "COMPLETED"


async def test_admin_controls_need_the_token_when_one_is_configured(tmp_path):
    from backend.runner import start_server
    from backend.server import create_app
    from tests.backend.conftest import make_settings

    running = await start_server(create_app(make_settings(tmp_path, admin_token="s3cret")))
    try:
        async with httpx.AsyncClient(base_url=running.url) as http:
            assert (await http.get("/admin/clock")).status_code == 401
            ok = await http.get("/admin/clock", headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200
    finally:
        await running.stop()
        running.service.close()


async def test_fake_client_reports_an_outage_with_the_last_known_status(settings):
    fake = FakeBackendClient(MockGovernment(settings))
    code, proof = DEMO["VERIFYING"]
    assert (await fake.lookup(code, proof)).status == RequestStatus.VERIFYING
    fake.available = False
    with pytest.raises(BackendUnavailable) as caught:
        await fake.lookup(code, proof)
    assert caught.value.last_known.from_cache and caught.value.last_known.status == RequestStatus.VERIFYING
    await fake.aclose()


def test_troly_backend_command_is_registered():
    from bot.cli import build_parser

    args = build_parser().parse_args(["backend", "--port", "0", "--host", "127.0.0.1", "--database", "x.db"])
    assert args.port == 0 and args.database == "x.db" and callable(args.handler)


async def test_openapi_description_lists_the_citizen_api(http):
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert "/api/v1/requests/{code}/status" in paths and "/verify/{token}" in paths
