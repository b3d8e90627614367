"""Issue 20, finding 3, through the real dispatcher: a web-chat user who
calls themselves `admin` (the browser picks the id) and says /forget must
not rewrite anyone else's audit rows, the admins' role grants least of all."""

from __future__ import annotations

import pytest

from core.messages import Inbound, InboundKind
from tests.hardening.conftest import ADMIN


@pytest.mark.parametrize("user_id", ["admin", "web", "officer", "admin1"])
async def test_a_web_user_named_like_staff_forgets_only_themselves(talk, staff, storage, user_id):
    await storage.audit("cli:admin", "role.granted", {"who": "telegram:1001", "role": "admin"})
    grant = Inbound(ADMIN[0], ADMIN[1], ADMIN[1], InboundKind.TEXT, "/grant officer telegram:42")
    assert await staff.handle(grant) is not None
    citizen = talk(user_id)
    await citizen.onboard("vi")
    before = [row for row in await storage.list_audit() if row["actor"] != f"web:{user_id}"]
    assert len(before) >= 3 and any(row["actor"] == f"web:{user_id}" for row in await storage.list_audit())

    await citizen.say("/forget")
    await citizen.press("menu:forget:yes")

    after = await storage.list_audit()
    for row in before:
        assert row in after, f"rewritten: {row}"
    erased = f"erased:{storage.pseudonym('web', user_id)}"
    assert {row["actor"] for row in after} - {row["actor"] for row in before} == {erased}
