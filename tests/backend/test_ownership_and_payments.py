"""Status lookups need proof of ownership; payments move a request on only
when they succeed. Over real HTTP on loopback."""

from __future__ import annotations

from tests.backend.conftest import DEMO, LAN, MINH, MINH_FULL, TRAINEE

PROCESSING_CODE = DEMO["PROCESSING"][0]


async def status(http, code, proof: dict):
    return await http.post(f"/api/v1/requests/{code}/status", json=proof)


async def test_holder_sees_status_with_last4_and_birth_date_or_full_id(http):
    for proof in (MINH, MINH_FULL):
        response = await status(http, PROCESSING_CODE, proof.as_json())
        assert response.status_code == 200
        assert response.json()["status"] == "PROCESSING"


async def test_status_lookup_rejects_someone_elses_request_like_an_unknown_code(http):
    someone_else = await status(http, PROCESSING_CODE, LAN.as_json())
    unknown = await status(http, "000.00.79.H79-261115-0999", MINH.as_json())
    wrong_birth = await status(http, PROCESSING_CODE, {"id_last4": "1234", "birth_date": "1985-07-03"})
    wrong_id = await status(http, PROCESSING_CODE, {"id_number": "079085001235"})
    for response in (someone_else, unknown, wrong_birth, wrong_id):
        assert response.status_code == 404
        assert response.content == unknown.content  # byte-identical: codes cannot be enumerated


async def test_response_reveals_no_id_number_or_phone(http):
    body = (await status(http, PROCESSING_CODE, MINH_FULL.as_json())).text
    assert "079085001234" not in body and "0903000202" not in body


async def test_successful_payment_moves_the_request_to_received_with_a_due_date(http):
    created = (await http.post("/api/v1/requests", json={**TRAINEE, "paper_copies": 3})).json()
    assert created["status"] == "AWAITING_PAYMENT"
    assert created["payment"]["amount_vnd"] == 205000  # 200,000 + 1 copy over the 2 included
    payment_id = created["payment"]["pay_url"].rsplit("/", 1)[1]
    page = await http.get(f"/pay/{payment_id}")
    assert page.status_code == 200 and "205.000 đ" in page.text and "MÔ PHỎNG" in page.text
    done = await http.post(f"/pay/{payment_id}/callback", json={"result": "success"})
    assert done.json()["state"] == "succeeded"
    view = (await status(http, created["code"], {"id_number": TRAINEE["id_number"]})).json()
    assert view["status"] == "RECEIVED" and view["due_date"] and view["payment"]["state"] == "succeeded"


async def test_failed_payment_leaves_the_request_unpaid_and_can_be_retried(http):
    created = (await http.post("/api/v1/requests", json=TRAINEE)).json()
    payment_id = created["payment"]["pay_url"].rsplit("/", 1)[1]
    failed = await http.post(f"/pay/{payment_id}/callback", data={"result": "failure"})
    assert failed.status_code == 200 and "không thành công" in failed.text
    proof = {"id_number": TRAINEE["id_number"]}
    view = (await status(http, created["code"], proof)).json()
    assert view["status"] == "AWAITING_PAYMENT" and view["payment"]["state"] == "failed"
    again = await http.post(f"/api/v1/requests/{created['code']}/payments", json=proof)
    assert again.status_code == 201 and again.json()["state"] == "pending"
    assert again.json()["pay_url"] != created["payment"]["pay_url"]
    retry_id = again.json()["pay_url"].rsplit("/", 1)[1]
    await http.post(f"/pay/{retry_id}/callback", json={"result": "success"})
    assert (await status(http, created["code"], proof)).json()["status"] == "RECEIVED"


async def test_a_repeated_gateway_callback_cannot_flip_the_result(http):
    created = (await http.post("/api/v1/requests", json=TRAINEE)).json()
    payment_id = created["payment"]["pay_url"].rsplit("/", 1)[1]
    await http.post(f"/pay/{payment_id}/callback", json={"result": "success"})
    second = await http.post(f"/pay/{payment_id}/callback", json={"result": "failure"})
    assert second.json()["state"] == "succeeded"


async def test_paying_a_request_that_is_not_awaiting_payment_is_refused(http):
    response = await http.post(f"/api/v1/requests/{PROCESSING_CODE}/payments", json=MINH.as_json())
    assert response.status_code == 409 and response.json()["error"] == "not_payable"


async def test_paying_someone_elses_request_answers_not_found(http):
    code = DEMO["AWAITING_PAYMENT"][0]
    response = await http.post(f"/api/v1/requests/{code}/payments", json=MINH.as_json())
    assert response.status_code == 404


async def test_a_second_request_while_one_is_open_is_refused_politely(http):
    assert (await http.post("/api/v1/requests", json=TRAINEE)).status_code == 201
    again = await http.post("/api/v1/requests", json=TRAINEE)
    assert again.status_code == 409 and "đang có một yêu cầu" in again.json()["message_vi"]
