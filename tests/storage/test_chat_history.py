"""The web chat's kept conversation (`chat_history`), on SQLite and PostgreSQL."""

from __future__ import annotations


async def test_history_keeps_the_newest_entries_in_order_per_user(storage):
    for number in range(7):
        await storage.append_history("web", "w1", [{"n": number, "text": "Phiếu số •"}], keep=5)
    await storage.append_history("web", "w2", [{"n": "other"}], keep=5)

    assert [entry["n"] for entry in await storage.recent_history("web", "w1", 50)] == [2, 3, 4, 5, 6]
    assert [entry["n"] for entry in await storage.recent_history("web", "w1", 2)] == [5, 6]
    assert (await storage.recent_history("web", "w1", 50))[0]["text"] == "Phiếu số •"
    assert await storage.recent_history("web", "w2", 50) == [{"n": "other"}]


async def test_history_is_cleared_and_erased_with_the_user(storage):
    await storage.append_history("web", "w1", [{"n": 1}, {"n": 2}], keep=50)
    await storage.append_history("web", "w2", [{"n": 3}], keep=50)
    await storage.clear_history("web", "w1")
    assert await storage.recent_history("web", "w1", 50) == []

    await storage.forget_user("web", "w2")
    assert await storage.recent_history("web", "w2", 50) == []
