"""Recipients' timelines.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timeline_entries",
        sa.Column("recipient", sa.String(16), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("source_agency", sa.String(16)),
        sa.Column("event_type", sa.String(64)),
        sa.Column("record_ref", sa.String(200)),
        sa.Column("record_version", sa.Integer),
        sa.Column("occurred_at", sa.DateTime(timezone=True)),
        sa.Column("categories", sa.JSON),
        sa.Column("view", sa.JSON),
    )
    op.create_index("ix_timeline_entries_family_id", "timeline_entries", ["family_id"])
    op.create_index("ix_timeline_entries_occurred_at", "timeline_entries", ["occurred_at"])
    op.create_table(
        "timeline_people",
        sa.Column("recipient", sa.String(16), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_timeline_people_person_id", "timeline_people", ["person_id"])


def downgrade() -> None:
    op.drop_table("timeline_people")
    op.drop_table("timeline_entries")
