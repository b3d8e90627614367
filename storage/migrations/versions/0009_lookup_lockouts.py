"""Wrong status-lookup proofs counted per request code (storage/lookup_locks.py,
issue 20): the lock-out no longer lives only in one user's conversation.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_lockouts",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_lookup_lockouts")),
    )
    op.create_index("ix_lookup_lockouts_window_start", "lookup_lockouts", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_lookup_lockouts_window_start", table_name="lookup_lockouts")
    op.drop_table("lookup_lockouts")
