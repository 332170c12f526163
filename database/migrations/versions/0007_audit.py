"""The audit ledger, its checkpoints, and access notifications.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_ledger",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("audit_id", sa.String(36), nullable=False, unique=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("agency", sa.String(16)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_ledger_action", "audit_ledger", ["action"])
    op.create_index("ix_audit_ledger_agency", "audit_ledger", ["agency"])
    op.create_index("ix_audit_ledger_at", "audit_ledger", ["at"])
    op.create_table(
        "audit_subjects",
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "seq"),
    )
    op.create_index("ix_audit_subjects_subject_id", "audit_subjects", ["subject_id"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("signature", sa.String(120), nullable=False),
    )
    op.create_table(
        "access_notifications",
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(40), nullable=False),
        sa.Column("viewer", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("event_ids", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", "owner", "person_id"),
    )
    op.create_index("ix_access_notifications_owner", "access_notifications", ["owner"])
    op.create_index("ix_access_notifications_person_id", "access_notifications", ["person_id"])
    op.create_index("ix_access_notifications_viewer", "access_notifications", ["viewer"])


def downgrade() -> None:
    op.drop_table("access_notifications")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_subjects")
    op.drop_table("audit_ledger")
