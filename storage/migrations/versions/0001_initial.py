"""Initial schema: users, conversations, seen_updates, subscriptions, events,
audit_log, storage_meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("province_code", sa.String(16)),
        sa.Column("commune_code", sa.String(16)),
        _when("consent_at", nullable=True),
        sa.Column("announcements_opt_out", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("unreachable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("source", sa.String(128)),
        _when("created_at"),
        _when("last_seen_at"),
        sa.PrimaryKeyConstraint("channel", "user_id", name="pk_users"),
    )
    op.create_table(
        "conversations",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("channel", "user_id", name="pk_conversations"),
    )
    op.create_table(
        "seen_updates",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("update_id", sa.String(128), nullable=False),
        _when("seen_at"),
        sa.PrimaryKeyConstraint("channel", "update_id", name="pk_seen_updates"),
    )
    op.create_index("ix_seen_updates_seen_at", "seen_updates", ["seen_at"])
    op.create_table(
        "subscriptions",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("request_code", sa.String(64), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("channel", "user_id", "request_code", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_request_code", "subscriptions", ["request_code"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("props", JSON, nullable=False),
        _when("at"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_user_hash", "events", ["user_hash"])
    op.create_index("ix_events_at", "events", ["at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("details", JSON, nullable=False),
        _when("at"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "storage_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_storage_meta"),
    )


def downgrade() -> None:
    for table in ("storage_meta", "audit_log", "events", "subscriptions", "seen_updates", "conversations", "users"):
        op.drop_table(table)
