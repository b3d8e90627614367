"""The outbound queue (storage/outbound.py, issue 18): replies written down
before their update is acknowledged, sent paced, surviving a worker's crash;
and the send budget the workers of one bot account share.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("payload", JSON),
        sa.Column("done_parts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
    )
    op.create_index("ix_outbound_messages_claim", "outbound_messages", ["channel", "state", "next_attempt_at"])
    op.create_index("ix_outbound_messages_chat", "outbound_messages", ["channel", "chat_id", "id"])
    op.create_table(
        "outbound_budget",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("next_free_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_outbound_budget")),
    )


def downgrade() -> None:
    op.drop_table("outbound_budget")
    op.drop_index("ix_outbound_messages_chat", table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_claim", table_name="outbound_messages")
    op.drop_table("outbound_messages")
