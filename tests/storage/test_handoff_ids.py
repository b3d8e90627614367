"""Issue 20, finding 2: a handoff ticket's id is never used again, even
after forget-me erased the ticket (SQLite used to hand the erased id to the
next ticket), and each ticket carries a random ref for its group messages.
On SQLite and PostgreSQL, including a database upgraded from revision 0007."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import select, text

from storage.handoff_tickets import TicketStore
from storage.migrations import alembic_config
from storage.schema import handoff_tickets

NOW = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


async def _open(store: TicketStore, user_id: str):
    return await store.open("web", user_id, user_id, "vi", "Một câu hỏi", NOW)


async def test_a_forgotten_citizens_ticket_id_goes_to_no_one_else(storage):
    tickets = TicketStore(storage)
    first = await _open(tickets, "first")
    await storage.forget_user("web", "first")
    assert await tickets.get(first.id) is None
    second = await _open(tickets, "second")
    assert second.id > first.id  # not the erased ticket's id
    assert await tickets.get(first.id) is None
    assert second.ref and first.ref and second.ref != first.ref and len(second.ref) == 8


async def test_a_database_upgraded_from_0007_stops_reusing_ids_and_closes_untagged_tickets(storage):
    async with storage.transaction(write=True) as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0007"))
        for user_id in ("old-closed", "old-open"):
            await conn.execute(
                text(
                    "INSERT INTO handoff_tickets (channel, user_id, chat_id, language, question, status, created_at)"
                    " VALUES ('web', :user, :user, 'vi', 'q', :status, :at)"
                ),
                {"user": user_id, "status": "open" if user_id == "old-open" else "closed", "at": NOW},
            )
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        rows = {row.user_id: row for row in (await conn.execute(select(handoff_tickets))).all()}
        if conn.dialect.name == "sqlite":
            sql = (await conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'handoff_tickets'"))).scalar()
            assert "AUTOINCREMENT" in sql
    # Kept, but an open ticket was posted without a ref: it can no longer be answered by its "Phiếu #N".
    assert rows["old-open"].status == "closed" and rows["old-open"].closed_by == "upgrade:0008"
    assert rows["old-open"].closed_at is not None and rows["old-closed"].ref is None
    tickets = TicketStore(storage)
    newest = max(row.id for row in rows.values())
    await storage.forget_user("web", "old-open")
    await storage.forget_user("web", "old-closed")
    assert (await _open(tickets, "next")).id > newest
