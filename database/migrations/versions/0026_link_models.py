"""Match models learnt from the agencies' records (``ehx links train``).

Each row is one model: m and u for each field's levels, the share of records bearing
each name (names borne by fewer than five records are left out), and the thresholds
set for its weights. The linker weighs pairs with the latest on start.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_models",
        sa.Column("model_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trained_by", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("link_models")
