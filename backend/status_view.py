"""The citizen API's view of a request: what `GET /api/requests/{code}` answers
once the proof of ownership has been checked (`MockGovernment.lookup`)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from backend import calendar
from backend.clock import iso_utc
from backend.domain import RequestStatus, agency_name, labels

if TYPE_CHECKING:
    from backend.service import MockGovernment


def status_view(service: MockGovernment, row: sqlite3.Row) -> dict:
    """A request's status as the citizen API returns it: labels, history, payment, certificate."""
    code = row["code"]
    status = RequestStatus(row["status"])
    label_vi, label_en = labels(status)
    history = [
        {"status": h["status"], "at": h["at"], "reason_vi": h["reason_vi"], "reason_en": h["reason_en"]}
        for h in service.db.execute("SELECT * FROM history WHERE code = ? ORDER BY id", (code,))
    ]
    payment = service.db.execute(
        "SELECT * FROM payments WHERE code = ? ORDER BY created_at DESC, rowid DESC LIMIT 1", (code,)
    ).fetchone()
    if payment is not None:
        payment_json = service.payment_json(payment)
        if status == RequestStatus.AWAITING_PAYMENT and payment["state"] == "failed":
            payment_json["pay_url"] = None
    elif status == RequestStatus.AWAITING_PAYMENT:
        payment_json = {"amount_vnd": service.quote(code), "state": "unpaid", "pay_url": None}
    else:
        payment_json = None
    certificate = service.db.execute("SELECT * FROM certificates WHERE code = ?", (code,)).fetchone()
    certificate_json = None
    if certificate is not None:
        certificate_json = {
            "number": certificate["number"],
            "certificate_type": certificate["certificate_type"],
            "issued_at": certificate["issued_at"],
            "agency_name": certificate["agency_name"],
            "verify_url": service.verify_url(certificate["token"]),
            "state": service.certificate_state(certificate, datetime.fromisoformat(certificate["expires_at"])),
        }
    limit = calendar.time_limit_on(date.fromisoformat(row["accepted_on"])) if row["accepted_on"] else None
    return {
        "code": code,
        "status": status.value,
        "label_vi": label_vi,
        "label_en": label_en,
        "certificate_type": row["certificate_type"],
        "purpose": row["purpose"],
        "paper_copies": row["paper_copies"],
        "delivery": row["delivery"],
        "agency_name": agency_name(row["province_code"]),
        "province_code": row["province_code"],
        "received_at": row["filed_at"],
        "due_date": row["due_date"],
        "extended": bool(row["extended"]),
        "due_date_basis": limit.basis if limit else None,
        "updated_at": row["updated_at"],
        "history": history,
        "payment": payment_json,
        "certificate": certificate_json,
        "fetched_at": iso_utc(datetime.now(UTC)),
    }
