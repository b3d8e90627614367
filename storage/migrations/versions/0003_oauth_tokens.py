"""OAuth tokens of platform accounts (the Zalo OA's access/refresh pair).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "oauth_tokens",
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        _when("access_expires_at"),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("seed_fingerprint", sa.String(64), nullable=False),
        _when("refresh_started_at", nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_oauth_tokens")),
    )


def downgrade() -> None:
    op.drop_table("oauth_tokens")
