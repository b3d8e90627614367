"""The client the bot uses to reach the government backend (the mock today,
a real integration later: only `base_url` and credentials change).

- Typed results (`StatusView`, `PaymentView`) and errors (`RequestNotFound`,
  `BackendUnavailable`, `InvalidRequest`).
- The citizen gets an answer within `timeout` seconds in total: retries with
  backoff (status lookups only: they are safe to repeat) share that budget.
- A circuit breaker stops hammering a backend that keeps failing.
- The last status seen for (code, proof) is kept in memory, so when the
  backend is unreachable `BackendUnavailable.last_known` carries it with its
  age. It is only ever returned to someone presenting the same proof.

`FakeBackendClient` has the same interface over an in-memory copy of the
mock service (same demo data) for dialogue tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import httpx

from backend.domain import OwnershipProof, RequestStatus, is_valid_code, normalise_code
from backend.service import MockGovernment, NotPayable
from backend.settings import MockSettings

__all__ = [
    "BackendClient",
    "BackendError",
    "BackendUnavailable",
    "CertificateView",
    "FakeBackendClient",
    "HistoryEntry",
    "InvalidRequest",
    "OwnershipProof",
    "PaymentView",
    "RequestNotFound",
    "RequestStatus",
    "StatusView",
]


@dataclass(frozen=True)
class HistoryEntry:
    status: RequestStatus
    at: datetime
    reason_vi: str
    reason_en: str


@dataclass(frozen=True)
class PaymentView:
    amount_vnd: int
    state: str  # unpaid | pending | succeeded | failed
    pay_url: str | None


@dataclass(frozen=True)
class CertificateView:
    number: str
    certificate_type: int
    issued_at: datetime
    agency_name: str
    verify_url: str
    state: str = "valid"  # valid | expired (its verification link) | revoked


@dataclass(frozen=True)
class StatusView:
    code: str
    status: RequestStatus
    label_vi: str
    label_en: str
    certificate_type: int
    purpose: str
    paper_copies: int
    delivery: str  # electronic | post | counter
    agency_name: str
    province_code: str
    received_at: datetime
    due_date: date | None
    extended: bool
    updated_at: datetime
    history: list[HistoryEntry]
    payment: PaymentView | None
    certificate: CertificateView | None
    fetched_at: datetime
    from_cache: bool = False
    age_seconds: float = 0.0
    due_date_basis: str | None = None  # the law the due date follows


class BackendError(Exception):
    """Any failure to get an answer from the backend."""


class RequestNotFound(BackendError):
    """No request with this code for this proof (the two are indistinguishable)."""


class InvalidRequest(BackendError):
    """The input was refused (malformed code, bad proof, not payable...)."""

    def __init__(self, message: str, error: str = "invalid_input", status: int = 400) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


class LookupLocked(BackendError):
    """Too many wrong proofs for this code (or from this client): the
    backend refuses lookups for `retry_after` seconds (its 429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"locked for {retry_after:.0f} s")
        self.retry_after = retry_after


class BackendUnavailable(BackendError):
    """Down, 5xx, timeout or circuit open. `last_known` is the last status
    this client saw for the same code and proof (from_cache=True, with its
    age), or None."""

    def __init__(self, last_known: StatusView | None = None, reason: str = "backend unavailable") -> None:
        super().__init__(reason)
        self.last_known = last_known


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def status_from_json(data: dict) -> StatusView:
    payment = data.get("payment")
    certificate = data.get("certificate")
    return StatusView(
        code=data["code"],
        status=RequestStatus(data["status"]),
        label_vi=data["label_vi"],
        label_en=data["label_en"],
        certificate_type=int(data["certificate_type"]),
        purpose=data["purpose"],
        paper_copies=int(data["paper_copies"]),
        delivery=data["delivery"],
        agency_name=data["agency_name"],
        province_code=data["province_code"],
        received_at=_when(data["received_at"]),
        due_date=date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
        extended=bool(data["extended"]),
        updated_at=_when(data["updated_at"]),
        history=[
            HistoryEntry(RequestStatus(h["status"]), _when(h["at"]), h["reason_vi"], h["reason_en"])
            for h in data["history"]
        ],
        payment=PaymentView(int(payment["amount_vnd"]), payment["state"], payment.get("pay_url")) if payment else None,
        certificate=CertificateView(
            certificate["number"],
            int(certificate["certificate_type"]),
            _when(certificate["issued_at"]),
            certificate["agency_name"],
            certificate["verify_url"],
            certificate.get("state", "valid"),
        )
        if certificate
        else None,
        fetched_at=_when(data["fetched_at"]),
        due_date_basis=data.get("due_date_basis"),
    )


def payment_from_json(data: dict) -> PaymentView:
    return PaymentView(int(data["amount_vnd"]), data["state"], data.get("pay_url"))


class _LastKnown:
    """Last status per (code, proof), in memory, bounded. Keyed by a hash so
    no id number sits in the key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[float, StatusView]] = OrderedDict()

    @staticmethod
    def key(code: str, proof: OwnershipProof) -> str:
        return hashlib.sha256(json.dumps([code, proof.as_json()], sort_keys=True).encode()).hexdigest()

    def put(self, key: str, view: StatusView) -> None:
        self._items[key] = (time.monotonic(), view)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def get(self, key: str) -> StatusView | None:
        item = self._items.get(key)
        if item is None:
            return None
        stored, view = item
        return replace(view, from_cache=True, age_seconds=time.monotonic() - stored)


def _checked(code: str, proof: OwnershipProof) -> str:
    code = normalise_code(code)
    if not is_valid_code(code):
        raise InvalidRequest("malformed request code", "malformed_code")
    problem = proof.problem()
    if problem:
        raise InvalidRequest(problem, "bad_proof")
    return code


class _ClientBase:
    """What both clients share: input checks and the last-known cache."""

    def __init__(self, cache_size: int = 10_000) -> None:
        self._last_known = _LastKnown(cache_size)

    async def lookup(self, code: str, proof: OwnershipProof) -> StatusView:
        """The request's current status; raises RequestNotFound (unknown code
        or wrong proof), InvalidRequest or BackendUnavailable."""
        code = _checked(code, proof)
        key = self._last_known.key(code, proof)
        try:
            view = status_from_json(await self._fetch_status(code, proof))
        except RequestNotFound:
            self._last_known.forget(key)
            raise
        except BackendUnavailable as error:
            raise BackendUnavailable(self._last_known.get(key), reason=str(error)) from None
        self._last_known.put(key, view)
        return view

    async def create_payment(self, code: str, proof: OwnershipProof) -> PaymentView:
        """Start paying (or get the pending payment of) a request waiting for payment."""
        return payment_from_json(await self._create_payment(_checked(code, proof), proof))

    async def _fetch_status(self, code: str, proof: OwnershipProof) -> dict:
        raise NotImplementedError

    async def _create_payment(self, code: str, proof: OwnershipProof) -> dict:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()


@dataclass
class CircuitBreaker:
    """Open after `threshold` consecutive failures; after `reset_seconds` one
    trial call goes through (half-open) and its result closes or reopens it."""

    threshold: int = 5
    reset_seconds: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self.clock() - self.opened_at >= self.reset_seconds:
            self.opened_at = self.clock()  # half-open: let this one try, hold the others
            return True
        return False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self.clock()


class BackendClient(_ClientBase):
    def __init__(
        self,
        base_url: str,
        timeout: float = 3.0,
        retries: int = 2,
        backoff: float = 0.1,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        cache_size: int = 10_000,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 10,
    ) -> None:
        super().__init__(cache_size)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.breaker = CircuitBreaker(failure_threshold, reset_seconds)
        # A few kept-alive connections serve many callers faster than one
        # connection each (measured in bench/backend.py). Callers queue here,
        # first come first served; time spent queueing is ours, not the
        # backend's fault, so it never trips the circuit breaker.
        self._slots = asyncio.Semaphore(max_connections)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _fetch_status(self, code: str, proof: OwnershipProof) -> dict:
        return await self._call("POST", f"/api/v1/requests/{code}/status", proof.as_json(), safe=True)

    async def _create_payment(self, code: str, proof: OwnershipProof) -> dict:
        return await self._call("POST", f"/api/v1/requests/{code}/payments", proof.as_json(), safe=False)

    async def _call(self, method: str, path: str, body: dict, *, safe: bool) -> dict:
        """One answer within `self.timeout` seconds in total, or BackendUnavailable."""
        if not self.breaker.allow():
            raise BackendUnavailable(reason="circuit open: the backend failed repeatedly")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        attempts = 1 + (self.retries if safe else 0)
        reason = "no attempt"
        for attempt in range(attempts):
            remaining = deadline - loop.time()
            if remaining <= 0.01:
                break
            try:
                async with asyncio.timeout(remaining):
                    await self._slots.acquire()
            except TimeoutError:
                raise BackendUnavailable(reason="busy: too many lookups waiting in this client") from None
            try:
                remaining = deadline - loop.time()
                async with asyncio.timeout(remaining):
                    response = await self._http.request(method, path, json=body, timeout=remaining)
            except (httpx.TimeoutException, TimeoutError):
                reason = "timeout"
            except httpx.HTTPError as error:
                reason = type(error).__name__
            else:
                if response.status_code < 500:
                    self.breaker.success()
                    return self._answer(response)
                reason = f"HTTP {response.status_code}"
            finally:
                self._slots.release()
            self.breaker.failure()
            if attempt + 1 < attempts and not self.breaker.is_open:
                pause = self.backoff * (2**attempt) * (0.5 + random.random() / 2)
                if deadline - loop.time() <= pause:
                    break
                await asyncio.sleep(pause)
        raise BackendUnavailable(reason=reason)

    @staticmethod
    def _answer(response: httpx.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 404:
            raise RequestNotFound(data.get("message_en", "not found"))
        if response.status_code == 429:
            raise LookupLocked(float(data.get("retry_after_seconds") or 900))
        if response.status_code >= 400:
            raise InvalidRequest(
                data.get("message_en", f"HTTP {response.status_code}"),
                data.get("error", "invalid_input"),
                response.status_code,
            )
        return data


class FakeBackendClient(_ClientBase):
    """In-memory stand-in for dialogue tests: the real mock service (same
    demo data, same rules) without HTTP. Set `available = False` to see what
    the bot does when the backend is unreachable."""

    def __init__(self, service=None, clock_speed: float = 1.0) -> None:
        super().__init__()
        if service is None:
            service = MockGovernment(
                MockSettings(database=":memory:", public_url="http://127.0.0.1:8090", clock_speed=clock_speed)
            )
        self.service = service
        self.available = True

    def _ensure_available(self) -> None:
        if not self.available:
            raise BackendUnavailable(reason="fake backend set unavailable")

    async def _fetch_status(self, code: str, proof: OwnershipProof) -> dict:
        self._ensure_available()
        data = self.service.lookup(code, proof)
        if data is None:
            raise RequestNotFound("not found")
        return data

    async def _create_payment(self, code: str, proof: OwnershipProof) -> dict:
        self._ensure_available()
        try:
            data = self.service.create_payment(code, proof)
        except NotPayable:
            raise InvalidRequest("This request is not waiting for payment.", "not_payable", 409) from None
        if data is None:
            raise RequestNotFound("not found")
        return data

    async def aclose(self) -> None:
        self.service.close()
