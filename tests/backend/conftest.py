"""Fixtures for the mock backend: the service in memory, and the real HTTP
service on a loopback port (port 0) with its database in tmp_path."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from backend.domain import OwnershipProof
from backend.runner import start_server
from backend.server import create_app
from backend.service import MockGovernment
from backend.settings import MockSettings

# A fixed "now" for the simulated clock: tests do not depend on today's date.
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam, a Monday

# Demo requests (backend/data/demo.yml) by status, with their holders' proofs.
MINH = OwnershipProof(id_last4="1234", birth_date=date(1985, 7, 2))
MINH_FULL = OwnershipProof(id_number="079085001234")
LAN = OwnershipProof(id_last4="4567", birth_date=date(1990, 3, 14))
DEMO = {
    "AWAITING_PAYMENT": ("000.00.01.H01-261120-0001", LAN),
    "RECEIVED": ("000.00.79.H79-261118-0003", MINH),
    "PROCESSING": ("000.00.79.H79-261115-0007", MINH),
    "VERIFYING": ("000.00.48.H48-261110-0002", OwnershipProof(id_last4="3456", birth_date=date(2002, 11, 20))),
    "NEEDS_INFO": ("000.00.31.H31-261112-0005", OwnershipProof(id_last4="7788", birth_date=date(1996, 5, 9))),
    "COMPLETED": ("000.00.01.H01-261103-0012", LAN),
    "REJECTED": ("000.00.40.H40-261105-0004", OwnershipProof(id_last4="2211", birth_date=date(1975, 1, 30))),
    "CANCELLED": ("000.00.92.H92-261101-0009", OwnershipProof(id_last4="9900", birth_date=date(2001, 9, 18))),
}
EXPIRED_LINK_REQUEST = ("000.00.24.H24-251010-0003", OwnershipProof(id_last4="5533", birth_date=date(1994, 12, 1)))
REVOKED_REQUEST = ("000.00.79.H79-260605-0011", MINH)

TRAINEE = {
    "full_name": "Người Dân Mẫu",
    "id_number": "001090123456",
    "birth_date": "1990-01-01",
    "province_code": "01",
    "certificate_type": 1,
    "purpose": "Bổ sung hồ sơ xin việc",
}


ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def make_settings(tmp_path, **overrides) -> MockSettings:
    """The mock as `make run` runs it: demo mode (simulation endpoints open)."""
    values = dict(
        admin_token=ADMIN_TOKEN,
        demo_mode=True,
        database=str(tmp_path / "mock.sqlite3"),
        clock_speed=1.0,
        clock_start=NOW,
        signing_key=b"test-signing-key",
        webhook_secret=b"test-webhook-secret",
        tick_seconds=0.05,
        hang_seconds=10.0,
    )
    values.update(overrides)
    return MockSettings(**values)


@pytest.fixture
def settings(tmp_path) -> MockSettings:
    return make_settings(tmp_path)


@pytest.fixture
def service(settings) -> MockGovernment:
    service = MockGovernment(settings)
    yield service
    service.close()


@pytest.fixture
async def backend(settings):
    """The real service over HTTP on 127.0.0.1:<free port>."""
    running = await start_server(create_app(settings))
    yield running
    await running.stop()
    running.service.close()


@pytest.fixture
async def http(backend):
    async with httpx.AsyncClient(base_url=backend.url, timeout=5, headers=ADMIN) as client:
        yield client


@pytest.fixture
async def asgi(settings):
    """The app without a socket (no background loop): fast input checks."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock", headers=ADMIN) as client:
        yield client
    app.state.service.close()
