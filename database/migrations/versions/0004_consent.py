"""The consent service: registry records, decided events, decisions and data keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("record_id", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_index("ix_consent_records_subject_id", "consent_records", ["subject_id"])
    op.create_table(
        "consent_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("family_id", sa.String(36), primary_key=True),
        sa.Column("person_ids", sa.JSON, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_consent_events_family_id", "consent_events", ["family_id"])
    op.create_table(
        "sharing_decisions",
        sa.Column("decision_id", sa.String(60), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(200)),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_due", sa.DateTime(timezone=True)),
        sa.Column("reviewed_outcome", sa.String(16)),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_index("ix_sharing_decisions_event_id", "sharing_decisions", ["event_id"])
    op.create_index("ix_sharing_decisions_family_id", "sharing_decisions", ["family_id"])
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(80), primary_key=True),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.LargeBinary),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True)),
        sa.Column("destroyed_because", sa.String(200)),
    )


def downgrade() -> None:
    for table in ("data_keys", "sharing_decisions", "consent_events", "consent_records"):
        op.drop_table(table)
