"""The JSON bodies of the mock's HTTP API (pydantic): what the routes accept,
strictly (unknown fields refused), and what the OpenAPI description shows they
answer."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from backend.domain import ID_NUMBER, LAST4, OwnershipProof, RequestStatus
from backend.errors import ApiError


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
    # 429 `too_many_attempts` only: when to try again (also the Retry-After header).
    retry_after_seconds: int | None = None


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
    state: Literal["valid", "expired", "revoked"] = "valid"  # revoked, or its verification link expired


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


# The error answers the citizen API documents.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 404, 409, 413, 422, 429, 502, 503, 504)
}
