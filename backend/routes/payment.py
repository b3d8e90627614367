"""The mock payment gateway (NAPAS-like): the page a citizen pays on, and the
callback that settles a payment (from that page's form, or JSON in tests)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile

from backend import pages
from backend.domain import agency_name
from backend.errors import INVALID_INPUT_VI, UNKNOWN_PAYMENT, ApiError
from backend.routes.deps import DEMO_ONLY, Service
from backend.schemas import CallbackBody
from domain.fees import format_vnd

router = APIRouter()


@router.get("/pay/{payment_id}", response_class=HTMLResponse, tags=["payments"])
async def payment_page(payment_id: str, service: Service, return_to: str | None = None):
    payment = service.payment(payment_id[:64])
    if payment is None:
        raise UNKNOWN_PAYMENT
    province = payment["code"].split(".")[2]
    return pages.payment_page(
        payment_id,
        payment["code"],
        agency_name(province),
        format_vnd(payment["amount_vnd"]),
        payment["state"],
        _safe_return(return_to),
    )


@router.post("/pay/{payment_id}/callback", tags=["payments"], dependencies=DEMO_ONLY)
async def payment_callback(payment_id: str, request: Request, service: Service):
    """The gateway's result (form post from the page, or JSON `{"result": "success"|"failure"}`).
    Unsigned, so demo mode only."""
    wants_json = "application/json" in request.headers.get("content-type", "")
    result: str | UploadFile | None  # a form field may hold a file; only the two words pass
    if wants_json:
        try:
            body = CallbackBody.model_validate_json(await request.body())
        except ValueError:
            raise ApiError(
                422, "invalid_input", INVALID_INPUT_VI, 'Expected {"result": "success"} or {"result": "failure"}.'
            ) from None
        result, return_to = body.result, None
    else:
        form = await request.form()
        result, return_to = form.get("result"), _safe_return(form.get("return_to"))
        if result not in ("success", "failure"):
            raise ApiError(
                422, "invalid_input", "Kết quả thanh toán không hợp lệ.", "result must be success or failure."
            )
    payment = service.settle_payment(payment_id[:64], result == "success")
    if payment is None:
        raise UNKNOWN_PAYMENT
    if wants_json:
        return {"state": payment["state"], "code": payment["code"]}
    if return_to:
        return RedirectResponse(return_to, status_code=303)
    ok = payment["state"] == "succeeded"
    return HTMLResponse(
        pages.message_page(
            "Kết quả thanh toán (mô phỏng)",
            "Thanh toán thành công. Hồ sơ đã được chuyển cho cơ quan công an."
            if ok
            else "Thanh toán không thành công. Bạn chưa bị trừ tiền; hãy kiểm tra trạng thái trước khi thử lại.",
            "Payment succeeded." if ok else "Payment failed; check the status before trying again.",
        )
    )


def _safe_return(value) -> str | None:
    """Only our own relative paths: never an open redirect."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and len(value) < 200:
        return value
    return None
