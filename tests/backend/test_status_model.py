"""Requests move through every status of the (design-proposal) model as
simulated time passes, with history, due dates and certificates."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from backend.domain import TRANSITIONS, OwnershipProof, RequestStatus, TransitionNotAllowed, check_transition
from backend.service import AlreadyOpen

S = RequestStatus


def file(service, scenario="normal", fee_group="standard", id_number="001090123456"):
    citizen = service.add_citizen("Người Dân Mẫu", id_number, date(1990, 1, 1), "79")
    return service.file_request(
        citizen, certificate_type=1, purpose="Xin việc", province_code="79", scenario=scenario, fee_group=fee_group
    )


def pay(service, code):
    service.settle_payment(service.new_payment(code), True)


def after(service, hours):
    service.clock.advance(timedelta(hours=hours))
    service.advance_all()


def statuses(service, code):
    return [h["status"] for h in service.db.execute("SELECT status FROM history WHERE code = ? ORDER BY id", (code,))]


def test_normal_request_is_received_processed_and_completed_with_a_certificate(service):
    code = file(service)
    assert service.status_of(code) == S.AWAITING_PAYMENT
    pay(service, code)
    assert service.status_of(code) == S.RECEIVED
    after(service, 4)
    assert service.status_of(code) == S.PROCESSING
    after(service, 44)
    assert service.status_of(code) == S.COMPLETED
    view = service.lookup(code, OwnershipProof(id_number="001090123456"))
    assert view["certificate"]["number"].endswith("/LLTP-CA79")
    assert view["certificate"]["verify_url"].startswith(service.settings.public_url + "/verify/")
    assert [h["status"] for h in view["history"]] == ["AWAITING_PAYMENT", "RECEIVED", "PROCESSING", "COMPLETED"]
    assert all(h["reason_vi"] and h["reason_en"] for h in view["history"])


def test_verification_extends_the_due_date_to_15_working_days(service):
    code = file(service, "verification")
    pay(service, code)
    before = service.lookup(code, OwnershipProof(id_number="001090123456"))
    assert before["extended"] is False and before["due_date"]
    after(service, 24)
    view = service.lookup(code, OwnershipProof(id_number="001090123456"))
    assert view["status"] == "VERIFYING" and view["extended"] is True
    assert view["due_date"] > before["due_date"]
    after(service, 96)
    assert service.status_of(code) == S.COMPLETED


def test_needs_info_goes_back_to_processing_then_completes(service):
    code = file(service, "needs_info")
    pay(service, code)
    after(service, 24)
    assert service.status_of(code) == S.NEEDS_INFO
    after(service, 24)
    assert service.status_of(code) == S.PROCESSING
    after(service, 24)
    assert statuses(service, code) == [
        "AWAITING_PAYMENT",
        "RECEIVED",
        "PROCESSING",
        "NEEDS_INFO",
        "PROCESSING",
        "COMPLETED",
    ]


def test_rejected_request_gets_reasons_and_no_certificate(service):
    code = file(service, "rejected")
    pay(service, code)
    after(service, 24)
    view = service.lookup(code, OwnershipProof(id_number="001090123456"))
    assert view["status"] == "REJECTED" and view["certificate"] is None
    assert "Từ chối" in view["history"][-1]["reason_vi"]


def test_unpaid_request_is_cancelled_after_the_payment_window(service):
    code = file(service)
    after(service, 71)
    assert service.status_of(code) == S.AWAITING_PAYMENT
    after(service, 2)
    assert service.status_of(code) == S.CANCELLED


def test_fee_exempt_request_is_received_without_payment(service):
    code = file(service, fee_group="exempt")
    assert service.status_of(code) == S.RECEIVED


def test_scenarios_produce_exactly_the_allowed_transitions(service):
    seen = set()
    for number, scenario in enumerate(["normal", "verification", "needs_info", "rejected"]):
        code = file(service, scenario, id_number=f"00109012345{number}")
        pay(service, code)
        after(service, 200)
        history = statuses(service, code)
        seen |= set(zip(history, history[1:]))
    unpaid = file(service, id_number="001090123459")
    after(service, 100)
    history = statuses(service, unpaid)
    seen |= set(zip(history, history[1:]))
    allowed = {(a.value, b.value) for a, nexts in TRANSITIONS.items() for b in nexts}
    assert seen == allowed


def test_a_final_status_never_moves_again():
    with pytest.raises(TransitionNotAllowed):
        check_transition(S.COMPLETED, S.PROCESSING)
    with pytest.raises(TransitionNotAllowed):
        check_transition(S.CANCELLED, S.RECEIVED)


def test_an_open_request_blocks_a_new_one_for_the_same_citizen(service):
    file(service)
    with pytest.raises(AlreadyOpen):
        file(service)


def test_dossier_codes_follow_the_agreed_shape_and_count_up_per_day(service):
    first = file(service, id_number="001090123451")
    second = file(service, id_number="001090123452")
    shape = re.compile(r"^000\.00\.79\.H79-\d{6}-\d{4}$")
    assert shape.match(first) and shape.match(second)
    assert int(second[-4:]) == int(first[-4:]) + 1


def test_held_demo_request_stays_put_until_fast_forwarded(service):
    code = "000.00.79.H79-261115-0007"
    after(service, 500)
    assert service.status_of(code) == S.PROCESSING
    service.fast_forward_request(code)
    assert service.status_of(code) == S.COMPLETED


def test_seeded_demo_has_a_request_in_every_status(service):
    seeded = {row["status"] for row in service.db.execute("SELECT status FROM requests")}
    assert seeded == {s.value for s in RequestStatus}
