"""Roles, broadcasts and the broadcast outbox (one row per recipient).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.String(160), nullable=False),
        _when("granted_at"),
        sa.PrimaryKeyConstraint("channel", "user_id", "role", name="pk_roles"),
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image", sa.LargeBinary()),
        sa.Column("link_title", sa.String(64)),
        sa.Column("link_url", sa.String(512)),
        sa.Column("segment", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _when("scheduled_at"),
        _when("created_at"),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_broadcasts"),
    )
    op.create_index("ix_broadcasts_status", "broadcasts", ["status"])
    op.create_table(
        "broadcast_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _when("next_attempt_at"),
        sa.Column("claimed_by", sa.String(64)),
        _when("lease_until", nullable=True),
        sa.Column("last_error", sa.String(200)),
        _when("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_deliveries"),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name="fk_broadcast_deliveries_broadcast_id_broadcasts",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "broadcast_id", "channel", "user_id", name="uq_broadcast_deliveries_broadcast_id_channel_user_id"
        ),
    )
    op.create_index("ix_broadcast_deliveries_claim", "broadcast_deliveries", ["channel", "state", "next_attempt_at"])
    op.create_index("ix_broadcast_deliveries_progress", "broadcast_deliveries", ["broadcast_id", "state"])


def downgrade() -> None:
    for table in ("broadcast_deliveries", "broadcasts", "roles"):
        op.drop_table(table)
