"""Subject rights: items withheld from a subject access release, items disputed.

A practitioner may mark an item "withhold: serious harm" for the data protection
officer's decision (``withheld_items``); the DPO may mark an item disputed by the data
subject, which every view of it then shows (``disputed_items``).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "withheld_items",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("marked_by", sa.String(64), nullable=False),
        sa.Column("marked_for", sa.String(48), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "disputed_items",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("disputed_by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("disputed_items")
    op.drop_table("withheld_items")
