"""A kept question remembers its message's update id (storage.feedback):
a turn handled twice keeps its question once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unanswered_questions") as table:  # SQLite: a copy of the table
        table.add_column(sa.Column("update_id", sa.String(128), nullable=True))
        table.create_index("ux_unanswered_questions_update", ["user_hash", "update_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("unanswered_questions") as table:
        table.drop_index("ux_unanswered_questions_update")
        table.drop_column("update_id")
