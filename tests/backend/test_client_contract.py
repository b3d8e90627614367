"""One contract for both clients: FakeBackendClient (dialogue tests) and
BackendClient against the real service on loopback must answer alike."""

from __future__ import annotations

from datetime import date

import pytest

from backend.client import (
    BackendClient,
    FakeBackendClient,
    InvalidRequest,
    OwnershipProof,
    PaymentView,
    RequestNotFound,
    RequestStatus,
    StatusView,
)
from backend.service import MockGovernment
from tests.backend.conftest import DEMO, LAN, MINH


@pytest.fixture(params=["fake", "real"])
async def client(request, settings):
    if request.param == "fake":
        fake = FakeBackendClient(MockGovernment(settings))
        yield fake
        await fake.aclose()
        return
    from backend.runner import start_server
    from backend.server import create_app

    running = await start_server(create_app(settings))
    async with BackendClient(running.url, timeout=3.0) as real:
        yield real
    await running.stop()
    running.service.close()


@pytest.mark.parametrize("status", list(DEMO))
async def test_every_demo_request_answers_with_its_documented_status(client, status):
    code, proof = DEMO[status]
    view = await client.lookup(code, proof)
    assert isinstance(view, StatusView)
    assert view.status == RequestStatus(status) and view.code == code
    assert view.label_vi and view.label_en and view.agency_name.startswith("Phòng Hồ sơ nghiệp vụ, Công an ")
    assert view.history[-1].status == view.status and view.from_cache is False
    assert (view.certificate is not None) == (view.status == RequestStatus.COMPLETED)
    assert (view.due_date is None) == (view.status in (RequestStatus.AWAITING_PAYMENT, RequestStatus.CANCELLED))


async def test_a_code_typed_with_spaces_and_lower_case_is_understood(client):
    code, proof = DEMO["PROCESSING"]
    view = await client.lookup(" " + code.lower().replace("-", " -") + " ", proof)
    assert view.code == code


async def test_wrong_proof_and_unknown_code_raise_the_same_not_found(client):
    code, _ = DEMO["PROCESSING"]
    with pytest.raises(RequestNotFound):
        await client.lookup(code, LAN)
    with pytest.raises(RequestNotFound):
        await client.lookup("000.00.79.H79-261115-0999", MINH)


@pytest.mark.parametrize(
    "code, proof",
    [
        ("LLTP-123", MINH),
        ("000.00.79.H80-261115-0007", MINH),  # province parts disagree
        ("000.00.79.H79-261345-0007", MINH),  # no 45th of month 13
        (DEMO["PROCESSING"][0], OwnershipProof(id_last4="1234")),
        (DEMO["PROCESSING"][0], OwnershipProof(id_number="12345")),
        (DEMO["PROCESSING"][0], OwnershipProof(id_last4="12a4", birth_date=date(1985, 7, 2))),
    ],
)
async def test_malformed_input_is_an_invalid_request(client, code, proof):
    with pytest.raises(InvalidRequest):
        await client.lookup(code, proof)


async def test_payment_for_an_unpaid_request_has_the_fee_and_a_pay_link(client):
    payment = await client.create_payment(*DEMO["AWAITING_PAYMENT"])
    assert isinstance(payment, PaymentView)
    assert payment.state == "pending" and payment.amount_vnd == 200000 and "/pay/" in payment.pay_url
    again = await client.create_payment(*DEMO["AWAITING_PAYMENT"])
    assert again == payment  # resuming, not a second charge
    view = await client.lookup(*DEMO["AWAITING_PAYMENT"])
    assert view.payment.state == "pending" and view.payment.pay_url == payment.pay_url


async def test_payment_for_a_request_in_progress_is_refused(client):
    with pytest.raises(InvalidRequest) as caught:
        await client.create_payment(*DEMO["PROCESSING"])
    assert caught.value.error == "not_payable"


async def test_payment_for_someone_elses_request_is_not_found(client):
    with pytest.raises(RequestNotFound):
        await client.create_payment(DEMO["AWAITING_PAYMENT"][0], MINH)


async def test_completed_request_carries_a_verification_link(client):
    view = await client.lookup(*DEMO["COMPLETED"])
    assert view.certificate.certificate_type == 1 and "/verify/" in view.certificate.verify_url
    assert view.certificate.number == "000001/2026/LLTP-CA01"
    assert view.due_date_basis and "107/2025" in view.due_date_basis
