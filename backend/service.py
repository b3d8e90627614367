"""The mock government service itself: citizens, requests moving through
their scenarios on the simulated clock, payments, certificates and the
outbox of status events. The HTTP app (`backend.server`) and the in-memory
`FakeBackendClient` both drive this one class, so they behave the same.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
import uuid
from datetime import date, datetime, timedelta

from backend import calendar, tokens
from backend.clock import SimulatedClock, iso_utc
from backend.domain import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    VIETNAM_TZ,
    OwnershipProof,
    RequestStatus,
    agency_name,
    check_transition,
    code_prefix,
    format_code,
    labels,
)
from backend.scenarios import Scenario, scenario_book
from backend.seed import seed_demo
from backend.settings import MockSettings
from backend.status_view import status_view
from backend.store import open_database
from domain import fees


class NotPayable(Exception):
    """The request is not waiting for payment."""


class AlreadyOpen(Exception):
    """The citizen already has an unpaid or in-progress request."""


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def _local_date(moment: datetime) -> date:
    return moment.astimezone(VIETNAM_TZ).date()


class MockGovernment:
    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings
        self.signing_key = settings.signing_key or secrets.token_bytes(32)
        self.webhook_secret = settings.webhook_secret or secrets.token_bytes(32)
        self.db: sqlite3.Connection = open_database(settings.database)
        self.clock = SimulatedClock(self.db, settings.clock_speed, settings.clock_start)
        if self.clock.speed != settings.clock_speed:
            self.clock.set_speed(settings.clock_speed)
        self.book = scenario_book()
        self.seeding = False
        if settings.seed_demo and not self.db.execute("SELECT 1 FROM citizens LIMIT 1").fetchone():
            self.seeding = True
            try:
                seed_demo(self)
            finally:
                self.seeding = False

    def close(self) -> None:
        self.db.close()

    # -- citizens and ownership -------------------------------------------

    def _digest(self, id_number: str) -> str:
        return hmac.new(self.signing_key, b"citizen:" + id_number.encode(), hashlib.sha256).hexdigest()

    def add_citizen(self, full_name: str, id_number: str, birth_date: date, province_code: str) -> int:
        """Register (or find) a citizen; only a keyed hash of the id is kept."""
        digest = self._digest(id_number)
        row = self.db.execute("SELECT id FROM citizens WHERE id_digest = ?", (digest,)).fetchone()
        if row:
            return row["id"]
        cursor = self.db.execute(
            "INSERT INTO citizens(full_name, id_digest, id_last4, birth_date, province_code) VALUES(?,?,?,?,?)",
            (full_name, digest, id_number[-4:], birth_date.isoformat(), province_code),
        )
        assert cursor.lastrowid is not None  # None only when no row was inserted
        return cursor.lastrowid

    def _owned(self, code: str, proof: OwnershipProof) -> sqlite3.Row | None:
        """The request if `proof` shows the asker holds it. Unknown code and
        wrong proof both give None, and do the same work (no timing hint)."""
        row = self.db.execute(
            "SELECT r.*, c.id_digest, c.id_last4, c.birth_date, c.full_name FROM requests r "
            "JOIN citizens c ON c.id = r.citizen_id WHERE r.code = ?",
            (code,),
        ).fetchone()
        if proof.id_number is not None:
            given = self._digest(proof.id_number)
            ok = hmac.compare_digest(given, row["id_digest"] if row else "0" * 64)
        else:
            expected = f"{row['id_last4']}|{row['birth_date']}" if row else "----|----------"
            given = f"{proof.id_last4}|{proof.birth_date.isoformat() if proof.birth_date else ''}"
            ok = hmac.compare_digest(given.encode(), expected.encode())
        return row if (row is not None and ok) else None

    # -- filing and payment -------------------------------------------------

    def file_request(
        self,
        citizen_id: int,
        *,
        certificate_type: int,
        purpose: str,
        paper_copies: int = 0,
        delivery: str = "electronic",
        address: str | None = None,
        province_code: str,
        fee_group: str = "standard",
        scenario: str = "normal",
        at: datetime | None = None,
        code: str | None = None,
        held: bool = False,
        notify: bool = True,
    ) -> str:
        """File a new request (as VNeID would). Raises AlreadyOpen when the
        citizen has an unpaid or in-progress request."""
        if scenario not in self.book.scenarios:
            raise ValueError(f"unknown scenario {scenario!r}")
        at = at or self.clock.now()
        open_count = self.db.execute(
            f"SELECT COUNT(*) FROM requests WHERE citizen_id = ? AND status IN ({','.join('?' * len(OPEN_STATUSES))})",
            (citizen_id, *OPEN_STATUSES),
        ).fetchone()[0]
        if open_count and not held:
            raise AlreadyOpen()
        filed_on = _local_date(at)
        code = code or format_code(province_code, filed_on, self._next_sequence(code_prefix(province_code, filed_on)))
        self.db.execute(
            "INSERT INTO requests(code, citizen_id, certificate_type, purpose, paper_copies, delivery, address,"
            " province_code, fee_group, scenario, status, step, status_since, held, filed_at, updated_at)"
            " VALUES(?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?)",
            (
                code,
                citizen_id,
                certificate_type,
                purpose,
                paper_copies,
                delivery,
                address,
                province_code,
                fee_group,
                scenario,
                RequestStatus.AWAITING_PAYMENT,
                iso_utc(at),
                int(held),
                iso_utc(at),
                iso_utc(at),
            ),
        )
        self._record(code, RequestStatus.AWAITING_PAYMENT, at, *self.book.reasons["AWAITING_PAYMENT"], notify=notify)
        if self.quote(code, at) == 0:
            self._transition(code, RequestStatus.RECEIVED, at, *self.book.reasons["RECEIVED_EXEMPT"], notify=notify)
        return code

    def _next_sequence(self, prefix: str, at_least: int = 0) -> int:
        row = self.db.execute("SELECT last FROM sequences WHERE prefix = ?", (prefix,)).fetchone()
        value = max((row["last"] if row else 0) + 1, at_least)
        self.db.execute(
            "INSERT INTO sequences(prefix, last) VALUES(?, ?) ON CONFLICT(prefix) DO UPDATE SET last = excluded.last",
            (prefix, value),
        )
        return value

    def reserve_code(self, code: str) -> None:
        """Make sure generated codes never collide with a fixed (seeded) one."""
        prefix, sequence = code.rsplit("-", 1)
        self._next_sequence(prefix, int(sequence))

    def quote(self, code: str, on: datetime | None = None) -> int:
        row = self.db.execute("SELECT fee_group, paper_copies FROM requests WHERE code = ?", (code,)).fetchone()
        day = _local_date(on or self.clock.now())
        return fees.quote(day, row["fee_group"], row["paper_copies"], "online").amount_vnd

    def create_payment(self, code: str, proof: OwnershipProof) -> dict | None:
        """Start (or resume) paying a request; None when not owned/unknown."""
        self.advance_request(code)
        row = self._owned(code, proof)
        if row is None:
            return None
        if row["status"] != RequestStatus.AWAITING_PAYMENT:
            raise NotPayable()
        pending = self.db.execute(
            "SELECT * FROM payments WHERE code = ? AND state = 'pending' ORDER BY created_at DESC LIMIT 1", (code,)
        ).fetchone()
        if pending is None:
            pending = self.payment(self.new_payment(code))
        return self.payment_json(pending)

    def new_payment(self, code: str, at: datetime | None = None) -> str:
        """A pending payment for the request's current fee; returns its id."""
        at = at or self.clock.now()
        payment_id = secrets.token_urlsafe(18)
        self.db.execute(
            "INSERT INTO payments(id, code, amount_vnd, state, created_at, updated_at) VALUES(?,?,?,?,?,?)",
            (payment_id, code, self.quote(code, at), "pending", iso_utc(at), iso_utc(at)),
        )
        return payment_id

    def payment(self, payment_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()

    def settle_payment(self, payment_id: str, success: bool, at: datetime | None = None) -> sqlite3.Row | None:
        """The gateway's callback: success moves the request on; failure
        leaves it waiting for payment (the citizen may try again)."""
        payment = self.payment(payment_id)
        if payment is None:
            return None
        if payment["state"] != "pending":
            return payment  # callbacks may repeat; the first one wins
        at = at or self.clock.now()
        request = self.db.execute("SELECT status FROM requests WHERE code = ?", (payment["code"],)).fetchone()
        if success and request["status"] != RequestStatus.AWAITING_PAYMENT:
            success = False  # e.g. cancelled as unpaid meanwhile: do not take the money
        self.db.execute(
            "UPDATE payments SET state = ?, updated_at = ? WHERE id = ?",
            ("succeeded" if success else "failed", iso_utc(at), payment_id),
        )
        if success:
            self._transition(payment["code"], RequestStatus.RECEIVED, at, *self.book.reasons["RECEIVED_PAID"])
        return self.payment(payment_id)

    def payment_json(self, payment: sqlite3.Row) -> dict:
        pay_url = self._public_link(f"/pay/{payment['id']}") if payment["state"] == "pending" else None
        return {"amount_vnd": payment["amount_vnd"], "state": payment["state"], "pay_url": pay_url}

    # -- the simulation -----------------------------------------------------

    def _scenario(self, row: sqlite3.Row) -> Scenario:
        return self.book.scenarios[row["scenario"]]

    def _next_step_due(self, row: sqlite3.Row) -> tuple[datetime, RequestStatus, str, str] | None:
        """When and where the request moves next on its own, if it does."""
        status = RequestStatus(row["status"])
        since = _parse(row["status_since"])
        if status == RequestStatus.AWAITING_PAYMENT:
            vi, en = self.book.reasons["CANCELLED_UNPAID"]
            return since + timedelta(hours=self.book.unpaid_expiry_hours), RequestStatus.CANCELLED, vi, en
        if status in FINAL_STATUSES:
            return None
        steps = self._scenario(row).steps
        if row["step"] >= len(steps):
            return None
        step = steps[row["step"]]
        return since + timedelta(hours=step.after_hours), step.to, step.reason_vi, step.reason_en

    def status_of(self, code: str) -> RequestStatus | None:
        row = self.db.execute("SELECT status FROM requests WHERE code = ?", (code,)).fetchone()
        return RequestStatus(row["status"]) if row else None

    def advance_request(
        self, code: str, now: datetime | None = None, *, include_held: bool = False, max_steps: int = 100
    ) -> None:
        """Apply every step whose time has come, each at its scheduled time
        (held requests stay put unless `include_held`)."""
        now = now or self.clock.now()
        for _ in range(max_steps):
            row = self.db.execute("SELECT * FROM requests WHERE code = ?", (code,)).fetchone()
            if row is None or (row["held"] and not include_held):
                return
            due = self._next_step_due(row)
            if due is None or due[0] > now:
                return
            self._transition(code, due[1], due[0], due[2], due[3], scenario_step=True)

    def advance_all(self) -> int:
        """One tick: move every request whose next step is due. Returns how many were looked at."""
        now = self.clock.now()
        codes = [
            r["code"]
            for r in self.db.execute(
                f"SELECT code FROM requests WHERE held = 0 AND status NOT IN ({','.join('?' * len(FINAL_STATUSES))})",
                tuple(FINAL_STATUSES),
            )
        ]
        for code in codes:
            self.advance_request(code, now)
        return len(codes)

    def fast_forward_request(self, code: str, steps: int = 1) -> bool:
        """Demo: move one request through its next `steps` steps now, held or
        not (payment included: an unpaid request is treated as paid)."""
        for _ in range(steps):
            row = self.db.execute("SELECT * FROM requests WHERE code = ?", (code,)).fetchone()
            if row is None:
                return False
            now = max(self.clock.now(), _parse(row["status_since"]))
            if row["status"] == RequestStatus.AWAITING_PAYMENT:
                self.db.execute(
                    "UPDATE payments SET state = 'failed', updated_at = ? WHERE code = ? AND state = 'pending'",
                    (iso_utc(now), code),
                )
                self._transition(code, RequestStatus.RECEIVED, now, *self.book.reasons["RECEIVED_PAID"])
                continue
            due = self._next_step_due(row)
            if due is None:
                break
            self._transition(code, due[1], now, due[2], due[3], scenario_step=True)
        return True

    def remove_request(self, code: str) -> bool:
        """Demo reset: delete a request with its history, payments and
        certificate, and its citizen when they have no other request."""
        row = self.db.execute("SELECT citizen_id FROM requests WHERE code = ?", (code,)).fetchone()
        if row is None:
            return False
        for table in ("certificates", "payments", "history"):
            self.db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))
        self.db.execute("DELETE FROM requests WHERE code = ?", (code,))
        if not self.db.execute("SELECT 1 FROM requests WHERE citizen_id = ?", (row["citizen_id"],)).fetchone():
            self.db.execute("DELETE FROM citizens WHERE id = ?", (row["citizen_id"],))
        return True

    def _transition(
        self,
        code: str,
        new: RequestStatus,
        at: datetime,
        reason_vi: str,
        reason_en: str,
        *,
        scenario_step: bool = False,
        notify: bool = True,
    ) -> None:
        row = self.db.execute("SELECT * FROM requests WHERE code = ?", (code,)).fetchone()
        current = RequestStatus(row["status"])
        check_transition(current, new)
        updates: dict = {"status": new, "status_since": iso_utc(at), "updated_at": iso_utc(at)}
        if scenario_step:
            updates["step"] = row["step"] + 1
        if new == RequestStatus.RECEIVED:
            updates["accepted_on"] = _local_date(at).isoformat()
            updates["due_date"] = calendar.legal_due_date(_local_date(at), bool(row["extended"])).isoformat()
        if new == RequestStatus.VERIFYING and self._scenario(row).extended and not row["extended"]:
            updates["extended"] = 1
            accepted = date.fromisoformat(row["accepted_on"])
            updates["due_date"] = calendar.legal_due_date(accepted, True).isoformat()
        assignments = ", ".join(f"{column} = ?" for column in updates)
        self.db.execute(f"UPDATE requests SET {assignments} WHERE code = ?", (*updates.values(), code))
        if new == RequestStatus.COMPLETED:
            self._issue_certificate(code, at)
        self._record(code, new, at, reason_vi, reason_en, notify=notify, previous=current)

    def _record(
        self,
        code: str,
        status: RequestStatus,
        at: datetime,
        reason_vi: str,
        reason_en: str,
        *,
        notify: bool,
        previous: RequestStatus | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO history(code, status, at, reason_vi, reason_en) VALUES(?,?,?,?,?)",
            (code, status, iso_utc(at), reason_vi, reason_en),
        )
        if notify and self.settings.webhook_url and not self.seeding:
            self._enqueue_event(code, status, previous, at)

    # -- certificates -------------------------------------------------------

    def _issue_certificate(self, code: str, at: datetime) -> None:
        row = self.db.execute(
            "SELECT r.*, c.full_name FROM requests r JOIN citizens c ON c.id = r.citizen_id WHERE r.code = ?", (code,)
        ).fetchone()
        year = _local_date(at).year
        sequence = self._next_sequence(f"certificate-{row['province_code']}-{year}")
        number = f"{sequence:06d}/{year}/LLTP-CA{row['province_code']}"
        certificate_id = secrets.token_urlsafe(16)
        expires_at = at + timedelta(days=self.settings.token_ttl_days)
        self.db.execute(
            "INSERT INTO certificates(id, number, code, certificate_type, holder_name, issued_at, agency_name,"
            " expires_at, token) VALUES(?,?,?,?,?,?,?,?,?)",
            (
                certificate_id,
                number,
                code,
                row["certificate_type"],
                row["full_name"],
                iso_utc(at),
                agency_name(row["province_code"]),
                iso_utc(expires_at),
                tokens.sign_token(self.signing_key, certificate_id, expires_at),
            ),
        )

    def verify_url(self, token: str) -> str:
        return self._public_link(f"/verify/{token}")

    def _public_link(self, path: str) -> str:
        """A link people open (payment page, certificate check) on the service's public URL."""
        return self.settings.public_url.rstrip("/") + path

    def revoke_certificate(self, number: str) -> bool:
        return self.db.execute("UPDATE certificates SET revoked = 1 WHERE number = ?", (number,)).rowcount > 0

    def check_certificate(self, token: str) -> tuple[str, sqlite3.Row | None]:
        """('valid'|'expired'|'revoked'|'unknown', certificate row or None)."""
        claims = tokens.read_token(self.signing_key, token)
        if claims is None:
            return "unknown", None
        row = self.db.execute("SELECT * FROM certificates WHERE id = ?", (claims.certificate_id,)).fetchone()
        if row is None:
            return "unknown", None
        return self.certificate_state(row, claims.expires_at), row

    def certificate_state(self, row: sqlite3.Row, expires_at: datetime) -> str:
        """'revoked', 'expired' (its verification link) or 'valid'."""
        if row["revoked"]:
            return "revoked"
        if expires_at <= self.clock.now():
            return "expired"
        return "valid"

    # -- status views -------------------------------------------------------

    def lookup(self, code: str, proof: OwnershipProof) -> dict | None:
        """The request's status as JSON, or None (unknown code OR wrong proof)."""
        self.advance_request(code)
        row = self._owned(code, proof)
        return None if row is None else status_view(self, row)

    # -- status events (webhooks) -------------------------------------------

    def _enqueue_event(self, code: str, status: RequestStatus, previous: RequestStatus | None, at: datetime) -> None:
        label_vi, label_en = labels(status)
        event_id = str(uuid.uuid4())
        body = {
            "event_id": event_id,
            "type": "request.status_changed",
            "code": code,
            "status": status.value,
            "previous_status": previous.value if previous else None,
            "label_vi": label_vi,
            "label_en": label_en,
            "at": iso_utc(at),
        }
        self.db.execute(
            "INSERT INTO outbox(event_id, body, next_attempt_at) VALUES(?,?,?)",
            (event_id, json.dumps(body, ensure_ascii=False, separators=(",", ":")), time.time()),
        )
