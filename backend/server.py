"""The mock service's HTTP app (FastAPI) and an in-process runner.

Citizen-facing JSON API under /api/v1 (fault injection applies there),
HTML pages (/verify, /pay, /simulator), demo controls under /admin, and
/openapi.json. Bad input always gets a 4xx with a clear message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

import httpx
import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend import pages
from backend.domain import (
    DELIVERIES,
    FEE_GROUPS,
    ID_NUMBER,
    VIETNAM_TZ,
    LAST4,
    OwnershipProof,
    RequestStatus,
    agency_name,
    is_valid_code,
    labels,
    mask_name,
    normalise_code,
)
from backend.outbox import WebhookSender
from backend.service import AlreadyOpen, MockGovernment, NotPayable
from backend.settings import FaultSettings, MockSettings
from domain.fees import format_vnd, quote
from domain.provinces import all_provinces, province_by_code

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
FormStr = Annotated[str, Form(max_length=300)]
FormInt = Annotated[int, Form()]
FAULT_HEADER = "X-Mock-Fault"


class ApiError(Exception):
    def __init__(self, status: int, error: str, message_vi: str, message_en: str) -> None:
        self.status, self.error, self.message_vi, self.message_en = status, error, message_vi, message_en


def error_json(status: int, error: str, message_vi: str, message_en: str, **extra) -> JSONResponse:
    return JSONResponse(
        {"error": error, "message_vi": message_vi, "message_en": message_en, **extra}, status_code=status
    )


NOT_FOUND = ApiError(
    404,
    "not_found",
    "Không tìm thấy hồ sơ với mã và thông tin xác minh này.",
    "No request matches this code and proof of ownership.",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProofBody(Strict):
    """Proof that the asker holds the request: `id_number`, or `id_last4` + `birth_date`."""

    id_number: StrictStr | None = Field(None, pattern=ID_NUMBER.pattern, description="12-digit id number")
    id_last4: StrictStr | None = Field(None, pattern=LAST4.pattern)
    birth_date: date | None = None

    def proof(self) -> OwnershipProof:
        proof = OwnershipProof(self.id_number, self.id_last4, self.birth_date)
        problem = proof.problem()
        if problem:
            raise ApiError(400, "bad_proof", "Cần số CCCD đủ 12 số, hoặc 4 số cuối kèm ngày sinh.", problem)
        return proof


class NewRequestBody(Strict):
    full_name: StrictStr = Field(min_length=2, max_length=100)
    id_number: StrictStr = Field(pattern=ID_NUMBER.pattern)
    birth_date: date
    province_code: StrictStr = Field(pattern=r"^\d{2}$")
    certificate_type: Literal[1, 2]
    purpose: StrictStr = Field(min_length=2, max_length=200)
    paper_copies: StrictInt = Field(0, ge=0, le=10)
    delivery: Literal["electronic", "post", "counter"] = "electronic"
    address: StrictStr | None = Field(None, max_length=300)
    fee_group: Literal["standard", "reduced", "exempt"] = "standard"
    scenario: Literal["normal", "verification", "needs_info", "rejected"] = "normal"


class ClockBody(Strict):
    advance_hours: StrictFloat | StrictInt | None = Field(None, ge=0, le=24 * 3650)
    speed: StrictFloat | StrictInt | None = Field(None, gt=0, le=100000)


class AdvanceBody(Strict):
    steps: StrictInt = Field(1, ge=1, le=10)


class FaultBody(Strict):
    latency_ms: StrictInt = Field(0, ge=0, le=60000)
    error_rate: StrictFloat | StrictInt = Field(0.0, ge=0, le=1)
    timeout_rate: StrictFloat | StrictInt = Field(0.0, ge=0, le=1)
    down: StrictBool = False


class CallbackBody(Strict):
    result: Literal["success", "failure"]


class ErrorOut(BaseModel):
    error: str
    message_vi: str
    message_en: str


class HistoryOut(BaseModel):
    status: RequestStatus
    at: str
    reason_vi: str
    reason_en: str


class PaymentOut(BaseModel):
    amount_vnd: int
    state: Literal["unpaid", "pending", "succeeded", "failed"]
    pay_url: str | None


class CertificateOut(BaseModel):
    number: str
    certificate_type: int
    issued_at: str
    agency_name: str
    verify_url: str


class StatusOut(BaseModel):
    """A request's status as its holder sees it (labels: design proposal, not VNeID's wording)."""

    code: str
    status: RequestStatus
    label_vi: str
    label_en: str
    certificate_type: int
    purpose: str
    paper_copies: int
    delivery: Literal["electronic", "post", "counter"]
    agency_name: str
    province_code: str
    received_at: str
    due_date: str | None = Field(description="legal due date (working days), set once received")
    extended: bool
    due_date_basis: str | None
    updated_at: str
    history: list[HistoryOut]
    payment: PaymentOut | None
    certificate: CertificateOut | None
    fetched_at: str


ERRORS = {status: {"model": ErrorOut} for status in (400, 404, 409, 413, 422, 502, 503, 504)}


def parse_code(raw: str) -> str:
    code = normalise_code(raw)
    if len(code) > 40 or not is_valid_code(code):
        raise ApiError(
            400,
            "malformed_code",
            "Mã hồ sơ không đúng dạng, ví dụ đúng: 000.00.79.H79-261115-0007.",
            "The request code is malformed; expected e.g. 000.00.79.H79-261115-0007.",
        )
    return code


def parse_fault_header(value: str) -> FaultSettings:
    """`X-Mock-Fault: latency=300, error, timeout, down` -> one request's faults."""
    faults = FaultSettings()
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, argument = part.partition("=")
        if name == "latency" and argument.isdigit() and int(argument) <= 60000:
            faults.latency_ms = int(argument)
        elif name in ("error", "timeout") and not argument:
            setattr(faults, f"{name}_rate", 1.0)
        elif name == "down" and not argument:
            faults.down = True
        else:
            raise ApiError(400, "bad_fault_header", "Tiêu đề X-Mock-Fault không hợp lệ.",
                           f"Unknown {FAULT_HEADER} part {part[:40]!r}; use latency=<ms>, error, timeout, down.")
    return faults


class BodyLimit:
    """Refuse bodies over MAX_BODY_BYTES (413) before anything reads them,
    whether or not the client sent a Content-Length."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = error_json(413, "body_too_large", "Dữ liệu gửi lên quá lớn.",
                             f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return await too_big(scope, receive, send)
        if length is not None or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        # No length given (chunked): read it all here, at most the limit, then replay.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_BODY_BYTES:
                return await too_big(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class Guard:
    """Admin token check on /admin, and fault injection on /api (run-wide
    faults from settings, one request's from the X-Mock-Fault header)."""

    def __init__(self, app, settings: MockSettings, randomness: random.Random) -> None:
        self.app, self.settings, self.randomness = app, settings, randomness

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        refusal = None
        if path.startswith("/admin") and self.settings.admin_token:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not secrets.compare_digest(given, f"Bearer {self.settings.admin_token}".encode()):
                refusal = error_json(401, "unauthorised", "Cần mã quản trị.", "Admin token required.")
        elif path.startswith("/api/"):
            header = dict(scope["headers"]).get(FAULT_HEADER.lower().encode(), b"").decode("latin-1")
            try:
                one = parse_fault_header(header) if header else FaultSettings()
            except ApiError as exc:
                refusal = error_json(exc.status, exc.error, exc.message_vi, exc.message_en)
            else:
                refusal = await _apply_faults(self.settings.faults, one, self.randomness, self.settings.hang_seconds)
        if refusal is not None:
            return await refusal(scope, receive, send)
        await self.app(scope, receive, send)


def create_app(settings: MockSettings, service: MockGovernment | None = None) -> FastAPI:
    """The mock service as an ASGI app. Its background loop (clock ticks and
    webhook delivery) runs during the app's lifespan."""
    service = service or MockGovernment(settings)
    randomness = random.Random()
    trainees: dict[str, tuple[str, str, str, str]] = {}  # ticket -> (code, last4, birth date, name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        sender.client = httpx.AsyncClient()
        task = asyncio.create_task(_background(service, sender))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await sender.client.aclose()
            sender.client = None

    app = FastAPI(
        title="troly mock LLTP backend",
        version="1",
        description=(
            "A SIMULATION of the VNeID -> provincial police (Phòng Hồ sơ nghiệp vụ) chain for criminal-record "
            "certificates (Phiếu lý lịch tư pháp). Status labels are a design proposal, not VNeID's wording. "
            "All data is fictitious."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    sender = app.state.sender = WebhookSender(service)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_json(exc.status, exc.error, exc.message_vi, exc.message_en)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = []
        for item in exc.errors():
            where = ".".join(str(p) for p in item["loc"] if p not in ("body",)) or "body"
            message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
            problems.append(f"{where}: {message}")
        return error_json(422, "invalid_input", "Dữ liệu gửi lên không hợp lệ.",
                          "Invalid input: " + "; ".join(problems)[:500], problems=problems[:20])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: ("Không có trang này.", "No such page."),
                    405: ("Phương thức không được hỗ trợ.", "Method not allowed.")}
        vi, en = messages.get(exc.status_code, ("Yêu cầu không hợp lệ.", str(exc.detail)))
        return error_json(exc.status_code, "http_error", vi, en)

    app.add_middleware(Guard, settings=settings, randomness=randomness)
    app.add_middleware(BodyLimit)  # added last, so it runs first

    # -- citizen API --------------------------------------------------------

    @app.get("/healthz", tags=["ops"])
    async def healthz():
        return {"ok": True, "simulated_now": service.clock.now().isoformat(timespec="seconds")}

    @app.post("/api/v1/requests/{code}/status", tags=["requests"], response_model=None,
              responses={200: {"model": StatusOut}, **ERRORS})
    async def request_status(code: str, body: ProofBody):
        """The status of a request, for its holder only. An unknown code and
        a wrong proof get the same 404."""
        found = service.lookup(parse_code(code), body.proof())
        if found is None:
            raise NOT_FOUND
        return JSONResponse(found)

    @app.post("/api/v1/requests/{code}/payments", tags=["payments"], status_code=201,
              response_model=PaymentOut, responses=ERRORS)
    async def create_payment(code: str, body: ProofBody):
        """Start paying a request waiting for payment (returns the pending one if any)."""
        try:
            payment = service.create_payment(parse_code(code), body.proof())
        except NotPayable:
            raise ApiError(409, "not_payable", "Hồ sơ này không ở trạng thái chờ thanh toán.",
                           "This request is not waiting for payment.") from None
        if payment is None:
            raise NOT_FOUND
        return payment

    @app.post("/api/v1/requests", tags=["requests"], status_code=201, responses=ERRORS)
    async def file_request(body: NewRequestBody):
        """File a new request, as VNeID does (used by the training simulator and tests)."""
        return _file(body)

    def _file(body: NewRequestBody) -> dict:
        if province_by_code(body.province_code) is None:
            raise ApiError(400, "unknown_province", "Mã tỉnh/thành phố không có trong danh sách 34 đơn vị.",
                           "Unknown province code.")
        if body.delivery == "post" and not (body.address or "").strip():
            raise ApiError(400, "address_required", "Cần địa chỉ nhận khi gửi qua bưu chính.",
                           "An address is needed for delivery by post.")
        citizen = service.add_citizen(body.full_name, body.id_number, body.birth_date, body.province_code)
        try:
            code = service.file_request(
                citizen, certificate_type=body.certificate_type, purpose=body.purpose,
                paper_copies=body.paper_copies, delivery=body.delivery, address=body.address,
                province_code=body.province_code, fee_group=body.fee_group, scenario=body.scenario,
            )
        except AlreadyOpen:
            raise ApiError(409, "request_open",
                           "Bạn đang có một yêu cầu chưa thanh toán hoặc đang xử lý. Hãy hoàn tất yêu cầu đó trước.",
                           "You have a request that is unpaid or in progress; finish it first.") from None
        proof = OwnershipProof(id_number=body.id_number)
        status = service.lookup(code, proof)
        payment = service.create_payment(code, proof) if status["status"] == RequestStatus.AWAITING_PAYMENT else None
        return {"code": code, "status": status["status"], "payment": payment}

    # -- payment gateway ----------------------------------------------------

    @app.get("/pay/{payment_id}", response_class=HTMLResponse, tags=["payments"])
    async def payment_page(payment_id: str, return_to: str | None = None):
        payment = service.payment(payment_id[:64])
        if payment is None:
            raise ApiError(404, "unknown_payment", "Không tìm thấy giao dịch.", "No such payment.")
        province = payment["code"].split(".")[2]
        return pages.payment_page(payment_id, payment["code"], agency_name(province),
                                  format_vnd(payment["amount_vnd"]), payment["state"], _safe_return(return_to))

    @app.post("/pay/{payment_id}/callback", tags=["payments"])
    async def payment_callback(payment_id: str, request: Request):
        """The gateway's result (form post from the page, or JSON `{"result": "success"|"failure"}`)."""
        wants_json = "application/json" in request.headers.get("content-type", "")
        if wants_json:
            try:
                body = CallbackBody.model_validate_json(await request.body())
            except ValueError:
                raise ApiError(422, "invalid_input", "Dữ liệu gửi lên không hợp lệ.",
                               'Expected {"result": "success"} or {"result": "failure"}.') from None
            result, return_to = body.result, None
        else:
            form = await request.form()
            result, return_to = form.get("result"), _safe_return(form.get("return_to"))
            if result not in ("success", "failure"):
                raise ApiError(422, "invalid_input", "Kết quả thanh toán không hợp lệ.",
                               "result must be success or failure.")
        payment = service.settle_payment(payment_id[:64], result == "success")
        if payment is None:
            raise ApiError(404, "unknown_payment", "Không tìm thấy giao dịch.", "No such payment.")
        if wants_json:
            return {"state": payment["state"], "code": payment["code"]}
        if return_to:
            return RedirectResponse(return_to, status_code=303)
        ok = payment["state"] == "succeeded"
        return HTMLResponse(pages.message_page(
            "Kết quả thanh toán (mô phỏng)",
            "Thanh toán thành công. Hồ sơ đã được chuyển cho cơ quan công an." if ok
            else "Thanh toán không thành công. Bạn chưa bị trừ tiền; hãy kiểm tra trạng thái trước khi thử lại.",
            "Payment succeeded." if ok else "Payment failed; check the status before trying again.",
        ))

    # -- certificate verification -------------------------------------------

    @app.get("/verify/{token}", tags=["certificates"])
    async def verify(token: str, request: Request, format: str | None = None):
        """Check a certificate link: valid / expired / revoked / unknown. HTML
        for people; JSON with `Accept: application/json` or `?format=json`."""
        state, row = service.check_certificate(token[:300])
        details: dict = {"state": state}
        if row is not None:
            details.update(
                number=row["number"], certificate_type=row["certificate_type"],
                holder=mask_name(row["holder_name"]), issued_at=row["issued_at"], agency_name=row["agency_name"],
            )
        if format == "json" or "application/json" in request.headers.get("accept", ""):
            return JSONResponse(details)
        rows = []
        if row is not None:
            rows = [("Số phiếu", row["number"]), ("Loại phiếu", f"Phiếu số {row['certificate_type']}"),
                    ("Người được cấp", details["holder"]), ("Ngày cấp", pages.vn_date(row["issued_at"])),
                    ("Cơ quan cấp", row["agency_name"])]
        return HTMLResponse(pages.verification_page(state, rows))

    # -- training simulator -------------------------------------------------

    provinces = [(p.code, p.full_name) for p in all_provinces()]
    scenario_choices = [(name, s.title_vi) for name, s in service.book.scenarios.items()]

    @app.get("/simulator", response_class=HTMLResponse, tags=["simulator"])
    async def simulator():
        return pages.simulator_form(provinces, scenario_choices)

    def _simulator_fields(
        province_code: str, certificate_type: int, purpose: str, paper_copies: int, delivery: str,
        address: str, fee_group: str, scenario: str,
    ) -> dict[str, str]:
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
            raise ApiError(422, "invalid_input", "Vui lòng kiểm tra lại: " + ", ".join(problems),
                           "Please check: " + ", ".join(problems))
        return {"province_code": province_code, "certificate_type": str(certificate_type),
                "purpose": purpose.strip(), "paper_copies": str(paper_copies), "delivery": delivery,
                "address": address.strip(), "fee_group": fee_group, "scenario": scenario}

    @app.post("/simulator/confirm", response_class=HTMLResponse, tags=["simulator"])
    async def simulator_confirm(province_code: FormStr, certificate_type: FormInt, purpose: FormStr,
                                paper_copies: FormInt, delivery: FormStr, fee_group: FormStr, scenario: FormStr,
                                address: FormStr = ""):
        fields = _simulator_fields(province_code, certificate_type, purpose, paper_copies, delivery, address,
                                   fee_group, scenario)
        amount = quote(service.clock.now().astimezone(VIETNAM_TZ).date(), fee_group, paper_copies, "online").amount_vnd
        delivery_text = {"electronic": "Bản điện tử trên VNeID", "post": "Bưu chính công ích",
                         "counter": "Nhận tại cơ quan công an"}[delivery]
        summary = [("Cơ quan tiếp nhận", agency_name(province_code)), ("Loại phiếu", f"Phiếu số {certificate_type}"),
                   ("Mục đích", fields["purpose"]), ("Số bản giấy", str(paper_copies)),
                   ("Nhận kết quả", delivery_text), ("Phí (theo quy định hiện hành)", format_vnd(amount))]
        if fields["address"]:
            summary.append(("Địa chỉ nhận", fields["address"]))
        return pages.simulator_confirm(fields, summary)

    @app.post("/simulator/submit", tags=["simulator"])
    async def simulator_submit(province_code: FormStr, certificate_type: FormInt, purpose: FormStr,
                               paper_copies: FormInt, delivery: FormStr, fee_group: FormStr, scenario: FormStr,
                               consent: FormStr, address: FormStr = ""):
        if consent != "yes":
            raise ApiError(422, "consent_required", "Cần đánh dấu cam đoan trước khi gửi.",
                           "The declaration must be ticked.")
        fields = _simulator_fields(province_code, certificate_type, purpose, paper_copies, delivery, address,
                                   fee_group, scenario)
        trainee = _trainee(randomness)
        created = _file(NewRequestBody(
            full_name=trainee["full_name"], id_number=trainee["id_number"], birth_date=trainee["birth_date"],
            province_code=province_code, certificate_type=certificate_type, purpose=fields["purpose"],
            paper_copies=paper_copies, delivery=delivery, address=fields["address"] or None, fee_group=fee_group,
            scenario=scenario,
        ))
        ticket = secrets.token_urlsafe(12)
        trainees[ticket] = (created["code"], trainee["id_number"][-4:], trainee["birth_date"].strftime("%d/%m/%Y"),
                            trainee["full_name"])
        done = f"/simulator/done/{ticket}"
        if created["payment"] is None:
            return RedirectResponse(done, status_code=303)
        payment_id = created["payment"]["pay_url"].rsplit("/", 1)[1]
        return RedirectResponse(f"/pay/{payment_id}?return_to={done}", status_code=303)

    @app.get("/simulator/done/{ticket}", response_class=HTMLResponse, tags=["simulator"])
    async def simulator_done(ticket: str):
        if ticket not in trainees:
            raise ApiError(404, "unknown_ticket", "Không tìm thấy phiên tập huấn.", "No such training session.")
        code, last4, birth, name = trainees[ticket]
        status = service.status_of(code)
        return pages.simulator_done(code, labels(status)[0], last4, birth, name)

    # -- demo controls --------------------------------------------------------

    @app.get("/admin/clock", tags=["admin"])
    async def get_clock():
        return {"now": service.clock.now().isoformat(timespec="seconds"), "speed": service.clock.speed}

    @app.post("/admin/clock", tags=["admin"])
    async def set_clock(body: ClockBody):
        """Fast-forward the whole clock (`advance_hours`) and/or change its `speed`."""
        if body.speed is not None:
            service.clock.set_speed(float(body.speed))
        if body.advance_hours:
            service.clock.advance(timedelta(hours=float(body.advance_hours)))
        service.advance_all()
        await app.state.sender.deliver_due()
        return await get_clock()

    @app.post("/admin/requests/{code}/advance", tags=["admin"])
    async def advance_request(code: str, body: AdvanceBody | None = None):
        """Fast-forward one request through its next step(s), even a held demo one."""
        code = parse_code(code)
        if not service.fast_forward_request(code, (body or AdvanceBody()).steps):
            raise ApiError(404, "not_found", "Không có hồ sơ này.", "No such request.")
        await app.state.sender.deliver_due()
        return {"code": code, "status": service.status_of(code)}

    @app.delete("/admin/requests/{code}", tags=["admin"])
    async def remove_request(code: str):
        """Demo reset: remove a request and everything about it (`troly demo reset`)."""
        code = parse_code(code)
        if not service.remove_request(code):
            raise ApiError(404, "not_found", "Không có hồ sơ này.", "No such request.")
        return {"code": code, "removed": True}

    @app.get("/admin/faults", tags=["admin"])
    async def get_faults():
        return asdict(settings.faults)

    @app.put("/admin/faults", tags=["admin"])
    async def put_faults(body: FaultBody):
        """Faults for every /api call from now on (all zero / false = healthy)."""
        settings.faults = FaultSettings(body.latency_ms, float(body.error_rate), float(body.timeout_rate), body.down)
        return asdict(settings.faults)

    @app.post("/admin/certificates/revoke", tags=["admin"])
    async def revoke(number: Annotated[str, Form(max_length=40)]):
        if not service.revoke_certificate(number):
            raise ApiError(404, "not_found", "Không có phiếu này.", "No such certificate.")
        return {"number": number, "revoked": True}

    @app.get("/admin/webhooks", tags=["admin"])
    async def webhook_outbox():
        rows = service.db.execute(
            "SELECT event_id, attempts, delivered_at IS NOT NULL AS delivered, gave_up, last_error FROM outbox"
            " ORDER BY id DESC LIMIT 50"
        ).fetchall()
        return [dict(r) for r in rows]

    return app


def _safe_return(value) -> str | None:
    """Only our own relative paths: never an open redirect."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and len(value) < 200:
        return value
    return None


TRAINEE_NAMES = ["Học Viên Tập Huấn", "Người Dân Mẫu", "Công Dân Thử"]


def _trainee(randomness: random.Random) -> dict:
    """A fictitious person for one training run (valid-format id, no real data)."""
    birth = date(randomness.randint(1960, 2006), randomness.randint(1, 12), randomness.randint(1, 28))
    century_sex = (0 if birth.year < 2000 else 2) + randomness.randint(0, 1)
    id_number = f"001{century_sex}{birth.year % 100:02d}{randomness.randint(0, 999999):06d}"
    name = f"{randomness.choice(TRAINEE_NAMES)} {randomness.randint(100, 999)}"
    return {"full_name": name, "id_number": id_number, "birth_date": birth}


async def _apply_faults(run: FaultSettings, one: FaultSettings, randomness: random.Random,
                        hang_seconds: float) -> Response | None:
    latency = max(run.latency_ms, one.latency_ms)
    if latency:
        await asyncio.sleep(latency / 1000)
    if run.down or one.down:
        return error_json(503, "down", "Hệ thống đang bảo trì (mô phỏng).", "The service is down (simulated).",)
    if randomness.random() < max(run.timeout_rate, one.timeout_rate):
        await asyncio.sleep(hang_seconds)
        return error_json(504, "timeout", "Hệ thống phản hồi quá chậm (mô phỏng).", "Simulated timeout.")
    if randomness.random() < max(run.error_rate, one.error_rate):
        return error_json(502, "injected_error", "Lỗi hệ thống (mô phỏng).", "Injected error (simulated).")
    return None


async def _background(service: MockGovernment, sender: WebhookSender) -> None:
    """Clock ticks and webhook delivery; one failing tick never stops the loop."""
    while True:
        try:
            service.advance_all()
            await sender.deliver_due()
        except Exception:  # noqa: BLE001 - keep ticking; the next tick retries
            log.exception("mock backend tick failed")
        await asyncio.sleep(service.settings.tick_seconds)


# -- running in-process -------------------------------------------------------


class RunningServer:
    """A uvicorn server started by `start_server`; `url` is where it listens."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task, host: str, port: int, app: FastAPI) -> None:
        self.server, self.task, self.host, self.port, self.app = server, task, host, port, app

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def service(self) -> MockGovernment:
        return self.app.state.service

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def start_server(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` in this event loop; port 0 picks a free port. When the
    service has no public URL of its own, it becomes the bound address."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False,
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error (e.g. port in use)
            raise RuntimeError("mock backend did not start")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    service: MockGovernment | None = getattr(app.state, "service", None)
    if service is not None and not service.settings.public_url:
        service.settings.public_url = f"http://{host}:{bound}"
    return RunningServer(server, task, host, bound, app)
