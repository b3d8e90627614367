"""The VNeID form training simulator: a trainee fills the form (type,
purpose, copies, delivery), confirms, pays on the mock gateway, and gets a
made-up person's code and proof to try a lookup with the bot."""

from __future__ import annotations

import random
import secrets
from datetime import date
from typing import Annotated, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from backend import pages
from backend.domain import DELIVERIES, FEE_GROUPS, VIETNAM_TZ, agency_name, labels
from backend.errors import ApiError
from backend.routes.citizen import file_new_request
from backend.routes.deps import DEMO_ONLY, Service
from backend.schemas import NewRequestBody
from backend.service import MockGovernment
from domain.fees import Group, format_vnd, quote
from domain.provinces import all_provinces, province_by_code

FormStr = Annotated[str, Form(max_length=300)]
FormInt = Annotated[int, Form()]
TRAINEE_NAMES = ["Học Viên Tập Huấn", "Người Dân Mẫu", "Công Dân Thử"]
DELIVERY_TEXT = {
    "electronic": "Bản điện tử trên VNeID",
    "post": "Bưu chính công ích",
    "counter": "Nhận tại cơ quan công an",
}

router = APIRouter(dependencies=DEMO_ONLY)  # files requests unauthenticated: demo mode only


@router.get("/simulator", response_class=HTMLResponse, tags=["simulator"])
async def simulator(service: Service):
    provinces = [(p.code, p.full_name) for p in all_provinces()]
    scenario_choices = [(name, s.title_vi) for name, s in service.book.scenarios.items()]
    return pages.simulator_form(provinces, scenario_choices)


@router.post("/simulator/confirm", response_class=HTMLResponse, tags=["simulator"])
async def simulator_confirm(
    service: Service,
    province_code: FormStr,
    certificate_type: FormInt,
    purpose: FormStr,
    paper_copies: FormInt,
    delivery: FormStr,
    fee_group: FormStr,
    scenario: FormStr,
    address: FormStr = "",
):
    fields = _simulator_fields(
        service, province_code, certificate_type, purpose, paper_copies, delivery, address, fee_group, scenario
    )
    group = cast(Group, fee_group)  # _simulator_fields checked it is one of FEE_GROUPS
    amount = quote(service.clock.now().astimezone(VIETNAM_TZ).date(), group, paper_copies, "online").amount_vnd
    summary = [
        ("Cơ quan tiếp nhận", agency_name(province_code)),
        ("Loại phiếu", f"Phiếu số {certificate_type}"),
        ("Mục đích", fields["purpose"]),
        ("Số bản giấy", str(paper_copies)),
        ("Nhận kết quả", DELIVERY_TEXT[delivery]),
        ("Phí (theo quy định hiện hành)", format_vnd(amount)),
    ]
    if fields["address"]:
        summary.append(("Địa chỉ nhận", fields["address"]))
    return pages.simulator_confirm(fields, summary)


@router.post("/simulator/submit", tags=["simulator"])
async def simulator_submit(
    request: Request,
    service: Service,
    province_code: FormStr,
    certificate_type: FormInt,
    purpose: FormStr,
    paper_copies: FormInt,
    delivery: FormStr,
    fee_group: FormStr,
    scenario: FormStr,
    consent: FormStr,
    address: FormStr = "",
):
    if consent != "yes":
        raise ApiError(
            422, "consent_required", "Cần đánh dấu cam đoan trước khi gửi.", "The declaration must be ticked."
        )
    fields = _simulator_fields(
        service, province_code, certificate_type, purpose, paper_copies, delivery, address, fee_group, scenario
    )
    trainee = _trainee(request.app.state.randomness)
    created = file_new_request(
        service,
        NewRequestBody(
            full_name=trainee["full_name"],
            id_number=trainee["id_number"],
            birth_date=trainee["birth_date"],
            province_code=province_code,
            certificate_type=certificate_type,
            purpose=fields["purpose"],
            paper_copies=paper_copies,
            delivery=delivery,
            address=fields["address"] or None,
            fee_group=fee_group,
            scenario=scenario,
        ),
    )
    ticket = secrets.token_urlsafe(12)
    request.app.state.trainees[ticket] = (
        created["code"],
        trainee["id_number"][-4:],
        trainee["birth_date"].strftime("%d/%m/%Y"),
        trainee["full_name"],
    )
    done = f"/simulator/done/{ticket}"
    if created["payment"] is None:
        return RedirectResponse(done, status_code=303)
    payment_id = created["payment"]["pay_url"].rsplit("/", 1)[1]
    return RedirectResponse(f"/pay/{payment_id}?return_to={done}", status_code=303)


@router.get("/simulator/done/{ticket}", response_class=HTMLResponse, tags=["simulator"])
async def simulator_done(ticket: str, request: Request, service: Service):
    trainees = request.app.state.trainees
    if ticket not in trainees:
        raise ApiError(404, "unknown_ticket", "Không tìm thấy phiên tập huấn.", "No such training session.")
    code, last4, birth, name = trainees[ticket]
    status = service.status_of(code)
    assert status is not None  # a ticket is only made for a request just filed
    return pages.simulator_done(code, labels(status)[0], last4, birth, name)


def _simulator_fields(
    service: MockGovernment,
    province_code: str,
    certificate_type: int,
    purpose: str,
    paper_copies: int,
    delivery: str,
    address: str,
    fee_group: str,
    scenario: str,
) -> dict[str, str]:
    """The form's fields, checked and trimmed, as the confirm page carries them on."""
    problems = []
    if province_by_code(province_code) is None or len(province_code) != 2:
        problems.append("province_code")
    if certificate_type not in (1, 2):
        problems.append("certificate_type")
    if not 2 <= len(purpose.strip()) <= 200:
        problems.append("purpose")
    if not 0 <= paper_copies <= 10:
        problems.append("paper_copies")
    if delivery not in DELIVERIES or (delivery == "post" and not address.strip()):
        problems.append("delivery/address")
    if fee_group not in FEE_GROUPS:
        problems.append("fee_group")
    if scenario not in service.book.scenarios:
        problems.append("scenario")
    if problems:
        raise ApiError(
            422,
            "invalid_input",
            "Vui lòng kiểm tra lại: " + ", ".join(problems),
            "Please check: " + ", ".join(problems),
        )
    return {
        "province_code": province_code,
        "certificate_type": str(certificate_type),
        "purpose": purpose.strip(),
        "paper_copies": str(paper_copies),
        "delivery": delivery,
        "address": address.strip(),
        "fee_group": fee_group,
        "scenario": scenario,
    }


def _trainee(randomness: random.Random) -> dict:
    """A fictitious person for one training run (valid-format id, no real data)."""
    birth = date(randomness.randint(1960, 2006), randomness.randint(1, 12), randomness.randint(1, 28))
    century_sex = (0 if birth.year < 2000 else 2) + randomness.randint(0, 1)
    id_number = f"001{century_sex}{birth.year % 100:02d}{randomness.randint(0, 999999):06d}"
    name = f"{randomness.choice(TRAINEE_NAMES)} {randomness.randint(100, 999)}"
    return {"full_name": name, "id_number": id_number, "birth_date": birth}
