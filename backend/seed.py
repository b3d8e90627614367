"""Seed the demo citizens and the fixed demo requests (data/demo.yml).

Each demo request is replayed through its scenario from its filing time, so
its history, due date, payment and certificate look like a real one's; it is
then held in the documented status.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.domain import VIETNAM_TZ, RequestStatus
from backend.scenarios import demo_data


def seed_demo(service) -> None:
    data = demo_data()
    citizens = {
        c["key"]: service.add_citizen(c["full_name"], c["id_number"], c["birth_date"], c["province_code"])
        for c in data["citizens"]
    }
    for item in data["requests"]:
        target = RequestStatus(item["status"])
        filed_at = datetime.fromisoformat(str(item["filed_at"])).replace(tzinfo=VIETNAM_TZ)
        service.reserve_code(item["code"])
        code = service.file_request(
            citizens[item["citizen"]],
            certificate_type=item["certificate_type"],
            purpose=item["purpose"],
            paper_copies=item["paper_copies"],
            delivery=item["delivery"],
            address=item.get("address"),
            province_code=item["code"].split(".")[2],
            scenario=item["scenario"],
            at=filed_at,
            code=item["code"],
            held=True,
            notify=False,
        )
        _replay(service, code, target, filed_at)
        if item.get("revoke_certificate"):
            number = service.db.execute("SELECT number FROM certificates WHERE code = ?", (code,)).fetchone()[0]
            service.revoke_certificate(number)


def _replay(service, code: str, target: RequestStatus, filed_at: datetime) -> None:
    if target == RequestStatus.AWAITING_PAYMENT:
        return
    if target == RequestStatus.CANCELLED:
        service.advance_request(code, filed_at + timedelta(days=30), include_held=True)
        return
    paid_at = filed_at + timedelta(minutes=20)
    service.settle_payment(service.new_payment(code, paid_at), True, at=paid_at)
    for _ in range(10):
        if service.status_of(code) == target:
            return
        service.advance_request(code, datetime.max.replace(tzinfo=VIETNAM_TZ), include_held=True, max_steps=1)
    raise ValueError(f"demo request {code}: scenario never reaches {target}")
