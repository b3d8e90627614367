"""Updates acknowledged before their turn was saved (storage/inbox.py): a
webhook that answers the platform while the turn is still running keeps the
update here, so another worker handles it should this one die.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbound_updates",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("update_id", sa.String(128), nullable=False),
        sa.Column("chat_id", sa.String(128)),
        sa.Column("body", JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_id", name=op.f("pk_inbound_updates")),
    )
    op.create_index("ix_inbound_updates_due", "inbound_updates", ["channel", "retry_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_updates_due", table_name="inbound_updates")
    op.drop_table("inbound_updates")
