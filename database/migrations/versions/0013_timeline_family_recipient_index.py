"""Timeline entries found by family and recipient together.

The alert desk reads the screening views (MASH, early help) of every family a batch
touched: ``recipient IN (...) AND family_id IN (...)``. With an index on family_id alone
SQLite chose the primary key's recipient prefix instead and read every MASH and early
help entry on file, so each batch cost more as the timeline grew (51 ms for 15 families
among 80,000 entries; 1.3 ms with this index). One index on (family_id, recipient)
serves that, a recipient's family timeline, and anything by family alone.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_timeline_entries_family_recipient", "timeline_entries", ["family_id", "recipient"]
    )
    op.drop_index("ix_timeline_entries_family_id", "timeline_entries")


def downgrade() -> None:
    op.create_index("ix_timeline_entries_family_id", "timeline_entries", ["family_id"])
    op.drop_index("ix_timeline_entries_family_recipient", "timeline_entries")
