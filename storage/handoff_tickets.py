"""Officer handoff tickets (the `handoff_tickets` table): a citizen's
question handed to the officers' group, open until an officer sends `/done`
or the citizen goes back to the bot. `bot.handoff_relay` relays the
messages; `forget_user` erases the rows."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from storage.schema import handoff_tickets, of_user
from storage.sql import SqlStorage


@dataclass(frozen=True)
class Ticket:
    id: int
    channel: str
    user_id: str
    chat_id: str
    language: str
    status: str
    ref: str | None = None  # the random tag of its group messages; None before revision 0008


class TicketStore:
    """The `handoff_tickets` table, on a `SqlStorage`'s engine."""

    def __init__(self, storage: SqlStorage) -> None:
        self.storage = storage

    async def open(
        self, channel: str, user_id: str, chat_id: str, language: str, question: str, now: datetime
    ) -> Ticket:
        """A new open ticket, with an id never used before and a random
        `ref`. One open ticket per citizen: a new question closes the one
        they had."""
        ref = secrets.token_hex(4)
        close_old = (
            update(handoff_tickets)
            .where(*of_user(handoff_tickets, channel, user_id), handoff_tickets.c.status == "open")
            .values(status="closed", closed_at=now, closed_by="citizen:new_question")
        )
        insert = (
            handoff_tickets.insert()
            .values(channel=channel, user_id=user_id, chat_id=chat_id, language=language,
                    question=question, status="open", created_at=now, ref=ref)
            .returning(handoff_tickets.c.id)
        )  # fmt: skip

        def work(conn) -> int:
            conn.execute(close_old)
            return conn.execute(insert).scalar_one()

        # In the citizen's turn: the storage's short-statement path (see storage.sql).
        ticket_id = await self.storage.run_sync(work, write=True)
        return Ticket(ticket_id, channel, user_id, chat_id, language, "open", ref)

    async def open_ticket_of(self, channel: str, user_id: str) -> Ticket | None:
        async with self.storage.transaction() as conn:
            row = (
                await conn.execute(
                    select(handoff_tickets)
                    .where(*of_user(handoff_tickets, channel, user_id), handoff_tickets.c.status == "open")
                    .order_by(handoff_tickets.c.id.desc())
                    .limit(1)
                )
            ).first()
        return _ticket(row) if row else None

    async def get(self, ticket_id: int) -> Ticket | None:
        async with self.storage.transaction() as conn:
            row = (await conn.execute(select(handoff_tickets).where(handoff_tickets.c.id == ticket_id))).first()
        return _ticket(row) if row else None

    async def close(self, ticket_id: int, at: datetime, by: str) -> None:
        async with self.storage.transaction(write=True) as conn:
            await conn.execute(
                update(handoff_tickets)
                .where(handoff_tickets.c.id == ticket_id)
                .values(status="closed", closed_at=at, closed_by=by[:160])
            )


def _ticket(row) -> Ticket:
    return Ticket(row.id, row.channel, row.user_id, row.chat_id, row.language, row.status, row.ref)
