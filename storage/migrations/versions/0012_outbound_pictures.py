"""Pictures of queued replies stored once each (storage/outbound_rows.py):
rows name them by digest instead of carrying each one's PNG.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_pictures",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_outbound_pictures")),
    )
    op.add_column("outbound_messages", sa.Column("pictures", sa.Text()))


def downgrade() -> None:
    op.drop_column("outbound_messages", "pictures")
    op.drop_table("outbound_pictures")
