"""The directory of organisations, and tokens bound to one organisation.

A recipient was an agency type: one school's token was every school's. The directory
names each organisation (a school by its DfE URN, a trust by its ODS code); a token and
a console account now name the organisation they act for. Tokens issued before keep
working as their type but see no school's notifications until reissued with --org.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_adult", sa.String(200), nullable=False),
        sa.Column("deputy", sa.String(200), nullable=False),
        sa.Column("calendar", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "code", "version"),
    )
    with op.batch_alter_table("agency_credentials") as batch:
        batch.add_column(sa.Column("organisation", sa.String(32)))
    with op.batch_alter_table("console_people") as batch:
        batch.add_column(sa.Column("organisation", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("console_people") as batch:
        batch.drop_column("organisation")
    with op.batch_alter_table("agency_credentials") as batch:
        batch.drop_column("organisation")
    op.drop_table("organisations")
