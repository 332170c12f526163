"""Agency tokens expire.

A token copied from a retired server worked for ever. Tokens now carry an expiry; those
issued before this migration get one a year from now, so no system stops at upgrade.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agency_credentials") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True)))
    credentials = sa.table("agency_credentials", sa.column("expires_at", sa.DateTime(True)))
    op.execute(
        credentials.update()
        .where(credentials.c.expires_at.is_(None))
        .values(expires_at=datetime.now(UTC) + timedelta(days=365))
    )


def downgrade() -> None:
    with op.batch_alter_table("agency_credentials") as batch:
        batch.drop_column("expires_at")
