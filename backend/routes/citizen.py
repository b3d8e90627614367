"""The citizen-facing JSON API under /api/v1 (what the bot's `BackendClient`
calls; fault injection applies here), and /healthz."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.domain import OwnershipProof, RequestStatus
from backend.errors import NOT_FOUND, ApiError, parse_code
from backend.routes.deps import DEMO_ONLY, Service, Throttle
from backend.schemas import ERRORS, NewRequestBody, PaymentOut, ProofBody, StatusOut
from backend.service import AlreadyOpen, MockGovernment, NotPayable
from domain.provinces import province_by_code

router = APIRouter()


@router.get("/healthz", tags=["ops"])
async def healthz(service: Service):
    return {"ok": True, "simulated_now": service.clock.now().isoformat(timespec="seconds")}


@router.post(
    "/api/v1/requests/{code}/status",
    tags=["requests"],
    response_model=None,
    responses={200: {"model": StatusOut}, **ERRORS},
)
async def request_status(code: str, body: ProofBody, service: Service, throttle: Throttle, request: Request):
    """The status of a request, for its holder only. An unknown code and
    a wrong proof get the same 404; 5 of them for one code (or 20 from one
    client) within 15 minutes, and that code (or client) gets 429 until
    the 15 minutes have passed, even with the right proof."""
    code, client = parse_code(code), _client(request)
    throttle.check(code, client)
    found = service.lookup(code, body.proof())
    if found is None:
        throttle.failed(code, client)
        raise NOT_FOUND
    return JSONResponse(found)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/api/v1/requests/{code}/payments", tags=["payments"], status_code=201, response_model=PaymentOut, responses=ERRORS
)
async def create_payment(code: str, body: ProofBody, service: Service, throttle: Throttle, request: Request):
    """Start paying a request waiting for payment (returns the pending one
    if any). Wrong proofs count as on the status route."""
    code, client = parse_code(code), _client(request)
    throttle.check(code, client)
    try:
        payment = service.create_payment(code, body.proof())
    except NotPayable:
        raise ApiError(
            409,
            "not_payable",
            "Hồ sơ này không ở trạng thái chờ thanh toán.",
            "This request is not waiting for payment.",
        ) from None
    if payment is None:
        throttle.failed(code, client)
        raise NOT_FOUND
    return payment


@router.post("/api/v1/requests", tags=["requests"], status_code=201, responses=ERRORS, dependencies=DEMO_ONLY)
async def file_request(body: NewRequestBody, service: Service):
    """File a new request, as VNeID does (used by the training simulator and
    tests). No authentication: demo mode only."""
    return file_new_request(service, body)


def file_new_request(service: MockGovernment, body: NewRequestBody) -> dict:
    """File `body` for its citizen; `{"code", "status", "payment"}` (payment
    started when one is due). The training simulator files through this too."""
    if province_by_code(body.province_code) is None:
        raise ApiError(
            400, "unknown_province", "Mã tỉnh/thành phố không có trong danh sách 34 đơn vị.", "Unknown province code."
        )
    if body.delivery == "post" and not (body.address or "").strip():
        raise ApiError(
            400,
            "address_required",
            "Cần địa chỉ nhận khi gửi qua bưu chính.",
            "An address is needed for delivery by post.",
        )
    citizen = service.add_citizen(body.full_name, body.id_number, body.birth_date, body.province_code)
    try:
        code = service.file_request(
            citizen,
            certificate_type=body.certificate_type,
            purpose=body.purpose,
            paper_copies=body.paper_copies,
            delivery=body.delivery,
            address=body.address,
            province_code=body.province_code,
            fee_group=body.fee_group,
            scenario=body.scenario,
        )
    except AlreadyOpen:
        raise ApiError(
            409,
            "request_open",
            "Bạn đang có một yêu cầu chưa thanh toán hoặc đang xử lý. Hãy hoàn tất yêu cầu đó trước.",
            "You have a request that is unpaid or in progress; finish it first.",
        ) from None
    proof = OwnershipProof(id_number=body.id_number)
    status = service.lookup(code, proof)
    assert status is not None  # just filed for this citizen, with their own proof
    payment = service.create_payment(code, proof) if status["status"] == RequestStatus.AWAITING_PAYMENT else None
    return {"code": code, "status": status["status"], "payment": payment}
