"""Issue 20, finding 3: forget-me rewrites only the forgotten person's own
audit traces. A web user whose id is `admin` or `web` (the browser picks
it) used to rewrite other people's rows: erasure replaced every value equal
to the bare user id, `cli:admin`'s grants and `{"channel": "web"}` alike."""

from __future__ import annotations

import pytest

from storage.base import user_actor

# Rows the forgotten web user has nothing to do with: each must stay as it is.
OTHERS = [
    ("cli:admin", "role.granted", {"who": "telegram:1001", "role": "admin"}),
    ("telegram:1001", "command.grant", {"args": ["officer", "telegram:42"]}),
    ("telegram:1001", "broadcast.created", {"broadcast": 1, "segment": "channel=web", "created_by": "admin"}),
    ("erased:0123", "user.forgotten", {"channel": "web"}),
    ("cli:admin", "user.viewed", {"channel": "telegram", "user_id": "admin"}),
    ("web:admin2", "consent_given", {"note": "web:admin is someone else"}),
    ("telegram:admin", "consent_given", {}),
]


async def _others_intact(storage) -> None:
    kept = [(row["actor"], row["action"], row["details"]) for row in await storage.list_audit()]
    for row in OTHERS:
        assert row in kept, (row, kept)


@pytest.mark.parametrize("user_id", ["admin", "web", "telegram", "1001", "%", "officer"])
async def test_a_web_user_forgetting_themselves_leaves_other_audit_rows_intact(storage, user_id):
    for actor, action, details in OTHERS:
        await storage.audit(actor, action, details)
    own = user_actor("web", user_id)
    await storage.audit(own, "consent_given")
    await storage.audit("telegram:1001", "role.granted", {"who": own, "role": "officer"})
    await storage.audit("telegram:1001", "command.revoke", {"args": ["officer", own]})
    await storage.audit("cli:ops", "user.viewed", {"channel": "web", "user_id": user_id})

    await storage.forget_user("web", user_id)

    await _others_intact(storage)
    erased = f"erased:{storage.pseudonym('web', user_id)}"
    audit = await storage.list_audit()
    assert own not in {row["actor"] for row in audit}
    own_traces = {
        (row["actor"], row["action"], repr(row["details"]))
        for row in audit
        if erased in repr((row["actor"], row["details"]))
    }
    assert own_traces == {
        (erased, "consent_given", repr({})),
        (erased, "user.forgotten", repr({"channel": "web"})),
        ("telegram:1001", "role.granted", repr({"who": erased, "role": "officer"})),
        ("telegram:1001", "command.revoke", repr({"args": ["officer", erased]})),
        ("cli:ops", "user.viewed", repr({"channel": "web", "user_id": erased})),
    }
