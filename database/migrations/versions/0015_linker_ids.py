"""The linker's id high-water marks.

The linker publishes a batch before it stores the batch's mentions; after a crash in
between, the batch is replayed, perhaps fetched in another order, and numbering new
people and families again from the stored mentions could give an id consent already
holds for one person to another. The highest numbers handed out are stored before each
publish, and a restarted linker numbers on from them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linker_ids",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("high", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("linker_ids")
