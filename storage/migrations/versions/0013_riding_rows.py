"""Riding rows of the outbound queue (storage/outbound.py): a row whose last
reply goes in the webhook response of its update names that update, so a
copy of the update delivered again can find it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbound_messages", sa.Column("update_id", sa.String(128)))


def downgrade() -> None:
    op.drop_column("outbound_messages", "update_id")
