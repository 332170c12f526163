"""People marked restricted, so no view carries their address.

The NHS marks a patient restricted (PDS confidentiality R or V) when her whereabouts
must not reach anyone else, typically after fleeing abuse. The consent service keeps
who is so marked: a later event about her, from any agency, is withheld too.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restricted_people",
        sa.Column("person_id", sa.String(36), primary_key=True),
        sa.Column("restriction", sa.String(16), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("restricted_people")
