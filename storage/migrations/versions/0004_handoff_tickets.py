"""Officer handoff tickets (bot/handoff_relay.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(160), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_tickets")),
    )
    op.create_index("ix_handoff_tickets_user", "handoff_tickets", ["channel", "user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_handoff_tickets_user", table_name="handoff_tickets")
    op.drop_table("handoff_tickets")
