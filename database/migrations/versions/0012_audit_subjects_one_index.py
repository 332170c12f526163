"""The audit ledger's subject index: one b-tree, not two.

``audit_subjects``' primary key (subject_id, seq) already finds a person's entries; the
separate index on subject_id only cost every append another insert.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_subjects_subject_id", "audit_subjects")


def downgrade() -> None:
    op.create_index("ix_audit_subjects_subject_id", "audit_subjects", ["subject_id"])
