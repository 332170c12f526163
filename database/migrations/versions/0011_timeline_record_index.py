"""Timeline entries by agency record: a correction finds the versions it supersedes.

Without it every view scanned the whole table for its record's other versions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_timeline_entries_record",
        "timeline_entries",
        ["record_ref", "recipient", "source_agency"],
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_entries_record", "timeline_entries")
