"""Questions the bot could not answer (storage/feedback.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unanswered_questions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("guess", sa.String(64), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("text", sa.String(300), nullable=False),
        sa.Column("normalized", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unanswered_questions")),
    )
    op.create_index("ix_unanswered_questions_user_hash", "unanswered_questions", ["user_hash"])
    op.create_index("ix_unanswered_questions_normalized", "unanswered_questions", ["normalized"])
    op.create_index("ix_unanswered_questions_at", "unanswered_questions", ["at"])


def downgrade() -> None:
    op.drop_index("ix_unanswered_questions_at", table_name="unanswered_questions")
    op.drop_index("ix_unanswered_questions_normalized", table_name="unanswered_questions")
    op.drop_index("ix_unanswered_questions_user_hash", table_name="unanswered_questions")
    op.drop_table("unanswered_questions")
