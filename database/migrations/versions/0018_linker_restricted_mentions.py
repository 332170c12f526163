"""Which of the linker's mentions an agency marked restricted.

The link review pages show postcodes and households; for a restricted person (PDS R or
V) they must not. The mention keeps the marker so the pages can withhold them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("linker_mentions") as batch:
        batch.add_column(
            sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("linker_mentions") as batch:
        batch.drop_column("restricted")
