"""Handoff ticket ids never reused, and a reference binding an officer's
reply to the ticket's own message (bot/handoff_relay.py, issue 20).

SQLite reused the id of a ticket erased by forget-me (rowid without
AUTOINCREMENT): the table is rebuilt with AUTOINCREMENT. PostgreSQL's serial
never reuses; there the column is simply added. Tickets still open were
posted without a reference: they are closed, so no answer is relayed by the
bare "Phiếu #N" of an old message.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _recreate() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    with op.batch_alter_table(
        "handoff_tickets", recreate=_recreate(), table_kwargs={"sqlite_autoincrement": True}
    ) as table:  # SQLite: a copy of the table, now with AUTOINCREMENT
        table.add_column(sa.Column("ref", sa.String(16), nullable=True))
    tickets = sa.table(
        "handoff_tickets",
        sa.column("status", sa.String),
        sa.column("closed_at", sa.DateTime(timezone=True)),
        sa.column("closed_by", sa.String),
    )
    op.execute(
        tickets.update()
        .where(tickets.c.status == "open")
        .values(status="closed", closed_at=sa.func.current_timestamp(), closed_by="upgrade:0008")
    )


def downgrade() -> None:
    with op.batch_alter_table("handoff_tickets", recreate=_recreate()) as table:
        table.drop_column("ref")
