"""The linker's decisions, replayed on start to rebuild its indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linker_mentions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("subject_index", sa.Integer, nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("weight", sa.Float),
        sa.Column("given_name", sa.Text, nullable=False),
        sa.Column("family_name", sa.Text, nullable=False),
        sa.Column("date_of_birth", sa.Date),
        sa.Column("postcode", sa.String(16)),
        sa.Column("identifiers", sa.JSON, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("household", sa.String(64)),
        sa.Column("related", sa.Boolean, nullable=False),
    )
    op.create_index("ix_linker_mentions_event_id", "linker_mentions", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_linker_mentions_event_id", "linker_mentions")
    op.drop_table("linker_mentions")
