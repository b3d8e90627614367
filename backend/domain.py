"""The mock's domain vocabulary: statuses, their labels, allowed transitions,
the dossier code shape, ownership proofs and the receiving agency.

The status model is the DESIGN PROPOSAL of shared/domain/facts.md §5: the
labels are invented for the mock and are never presented as VNeID's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from enum import StrEnum

from domain.provinces import province_by_code

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")


class RequestStatus(StrEnum):
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    RECEIVED = "RECEIVED"
    PROCESSING = "PROCESSING"
    VERIFYING = "VERIFYING"
    NEEDS_INFO = "NEEDS_INFO"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


STATUS_LABELS: dict[RequestStatus, tuple[str, str]] = {
    RequestStatus.AWAITING_PAYMENT: ("Chờ thanh toán", "Awaiting payment"),
    RequestStatus.RECEIVED: ("Đã tiếp nhận", "Received"),
    RequestStatus.PROCESSING: ("Đang xử lý", "Processing"),
    RequestStatus.VERIFYING: ("Đang xác minh", "Verifying"),
    RequestStatus.NEEDS_INFO: ("Yêu cầu bổ sung", "More information needed"),
    RequestStatus.COMPLETED: ("Đã trả kết quả", "Completed"),
    RequestStatus.REJECTED: ("Từ chối", "Rejected"),
    RequestStatus.CANCELLED: ("Đã hủy", "Cancelled"),
}

# Every move the mock makes (scenarios in data/scenarios.yml plus payment and
# unpaid expiry); tests check the scenarios produce exactly these.
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.AWAITING_PAYMENT: frozenset({RequestStatus.RECEIVED, RequestStatus.CANCELLED}),
    RequestStatus.RECEIVED: frozenset({RequestStatus.PROCESSING}),
    RequestStatus.PROCESSING: frozenset(
        {RequestStatus.VERIFYING, RequestStatus.NEEDS_INFO, RequestStatus.COMPLETED, RequestStatus.REJECTED}
    ),
    RequestStatus.VERIFYING: frozenset({RequestStatus.COMPLETED}),
    RequestStatus.NEEDS_INFO: frozenset({RequestStatus.PROCESSING}),
    RequestStatus.COMPLETED: frozenset(),
    RequestStatus.REJECTED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}

FINAL_STATUSES = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)
# An unpaid or in-progress request blocks a new one (facts.md §3 step 4, medium).
OPEN_STATUSES = frozenset(RequestStatus) - FINAL_STATUSES


def labels(status: RequestStatus) -> tuple[str, str]:
    """(Vietnamese, English) label of a status."""
    return STATUS_LABELS[status]


class TransitionNotAllowed(ValueError):
    pass


def check_transition(current: RequestStatus, new: RequestStatus) -> None:
    if new not in TRANSITIONS[current]:
        raise TransitionNotAllowed(f"{current} -> {new} is not allowed")


# `000.00.PP.HPP-YYMMDD-NNNN` (TT 01/2018/TT-VPCP Đ.19 shape; facts.md §5).
DOSSIER_CODE = re.compile(r"^000\.00\.(?P<pp>\d{2})\.H(?P=pp)-(?P<yymmdd>\d{6})-(?P<seq>\d{4})$")


def normalise_code(raw: str) -> str:
    """Upper-case and strip spaces, so 'h79' typed on a phone still matches."""
    return re.sub(r"\s+", "", raw).upper()


def is_valid_code(code: str) -> bool:
    match = DOSSIER_CODE.match(code)
    if not match:
        return False
    yymmdd = match["yymmdd"]
    try:
        date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        return False
    return int(match["seq"]) > 0


def format_code(province_code: str, received: date, sequence: int) -> str:
    return f"000.00.{province_code}.H{province_code}-{received:%y%m%d}-{sequence:04d}"


def code_prefix(province_code: str, received: date) -> str:
    return f"000.00.{province_code}.H{province_code}-{received:%y%m%d}"


DELIVERIES = ("electronic", "post", "counter")
FEE_GROUPS = ("standard", "reduced", "exempt")


def agency_name(province_code: str) -> str:
    """'Phòng Hồ sơ nghiệp vụ, Công an tỉnh Nghệ An' (receiving unit since 01/03/2025)."""
    province = province_by_code(province_code)
    if province is None:
        raise ValueError(f"unknown province code {province_code!r}")
    unit = province.full_name.replace("Tỉnh ", "tỉnh ", 1)
    return f"Phòng Hồ sơ nghiệp vụ, Công an {unit}"


ID_NUMBER = re.compile(r"^\d{12}$")
LAST4 = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class OwnershipProof:
    """What the asker knows about the request's holder: the full 12-digit id
    number, or its last 4 digits plus the date of birth."""

    id_number: str | None = None
    id_last4: str | None = None
    birth_date: date | None = None

    def problem(self) -> str | None:
        """Why this proof cannot be checked at all (None when well-formed)."""
        if self.id_number is not None:
            return None if ID_NUMBER.match(self.id_number) else "id_number must be 12 digits"
        if self.id_last4 is None or self.birth_date is None:
            return "give id_number, or id_last4 together with birth_date"
        return None if LAST4.match(self.id_last4) else "id_last4 must be 4 digits"

    def as_json(self) -> dict:
        data: dict = {}
        if self.id_number is not None:
            data["id_number"] = self.id_number
        if self.id_last4 is not None:
            data["id_last4"] = self.id_last4
        if self.birth_date is not None:
            data["birth_date"] = self.birth_date.isoformat()
        return data


def mask_name(full_name: str) -> str:
    """'Nguyễn Thị Lan' -> 'N*** T** Lan': enough to recognise, not to reveal."""
    parts = full_name.split()
    if len(parts) <= 1:
        return (full_name[:1] + "***") if full_name else ""
    return " ".join([p[0] + "*" * (len(p) - 1) for p in parts[:-1]] + [parts[-1]])
