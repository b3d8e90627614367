"""The certificate verification link a certificate carries: valid, expired,
revoked or unknown, for people (HTML) and programs (JSON)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from backend import pages
from backend.domain import mask_name
from backend.routes.deps import Service

router = APIRouter()


@router.get("/verify/{token}", tags=["certificates"])
async def verify(token: str, request: Request, service: Service, format: str | None = None):
    """Check a certificate link: valid / expired / revoked / unknown. HTML
    for people; JSON with `Accept: application/json` or `?format=json`."""
    state, row = service.check_certificate(token[:300])
    details: dict = {"state": state}
    if row is not None:
        details.update(
            number=row["number"],
            certificate_type=row["certificate_type"],
            holder=mask_name(row["holder_name"]),
            issued_at=row["issued_at"],
            agency_name=row["agency_name"],
        )
    if format == "json" or "application/json" in request.headers.get("accept", ""):
        return JSONResponse(details)
    rows = []
    if row is not None:
        rows = [
            ("Số phiếu", row["number"]),
            ("Loại phiếu", f"Phiếu số {row['certificate_type']}"),
            ("Người được cấp", details["holder"]),
            ("Ngày cấp", pages.vn_date(row["issued_at"])),
            ("Cơ quan cấp", row["agency_name"]),
        ]
    return HTMLResponse(pages.verification_page(state, rows))
