"""The demo table outreach staff use (docs/backend.md) must stay true: every
row's code, status and proofs work against a fresh mock."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from backend.domain import OwnershipProof

DOC = Path(__file__).resolve().parents[2] / "docs" / "backend.md"
ROW = re.compile(
    r"^\| `(?P<code>[^`]+)` \| (?P<status>[A-Z_]+) — .*? \| (?P<last4>\d{4}) \+ (?P<d>\d\d)/(?P<m>\d\d)/"
    r"(?P<y>\d{4}) \| (?P<id>\d{12}) \|",
    re.M,
)


def test_every_row_of_the_demo_table_answers_as_documented(service):
    rows = list(ROW.finditer(DOC.read_text(encoding="utf-8")))
    assert len(rows) == 10
    for row in rows:
        short = OwnershipProof(id_last4=row["last4"], birth_date=date(int(row["y"]), int(row["m"]), int(row["d"])))
        for proof in (short, OwnershipProof(id_number=row["id"])):
            view = service.lookup(row["code"], proof)
            assert view is not None and view["status"] == row["status"], row["code"]
    states = {service.check_certificate(c["token"])[0] for c in service.db.execute("SELECT token FROM certificates")}
    assert states == {"valid", "expired", "revoked"}
