"""MASH alerts and Operation Encompass notifications.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(80), primary_key=True),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("level", sa.String(24), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("problems", sa.JSON, nullable=False),
        sa.Column("event_ids", sa.JSON, nullable=False),
        sa.Column("indicators_only", sa.Boolean, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("screened_by", sa.String(64)),
        sa.Column("screened_at", sa.DateTime(timezone=True)),
        sa.Column("decision", sa.String(32)),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_alerts_family_id", "alerts", ["family_id"])
    op.create_table(
        "encompass_notifications",
        sa.Column("notification_id", sa.String(80), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("school_urn", sa.String(16)),
        sa.Column("addressed_to", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("escalation", sa.String(24), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("encompass_notifications")
    op.drop_index("ix_alerts_family_id", "alerts")
    op.drop_table("alerts")
