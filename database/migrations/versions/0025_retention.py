"""Retention and erasure: data keys per retention period, and the removals made.

A data key now seals one recipient's items about one person under one entry of the
retention schedule from one year (``period``, ``mash/2026``), so a retention sweep can
destroy what expired and nothing else. Keys made before have no period: they live until
consent is withdrawn or the person is erased. ``removals`` records each sweep and
erasure: what it removed (ids), how far it got (so an interrupted one resumes), and
salted hashes of what identified an erased person, which the proof looks for.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_keys") as batch:
        batch.add_column(sa.Column("period", sa.String(48)))
    op.create_index("ix_data_keys_period", "data_keys", ["period"])
    # The consent service asks once a batch which keys were destroyed elsewhere.
    op.create_index("ix_data_keys_destroyed_at", "data_keys", ["destroyed_at"])
    op.create_table(
        "removals",
        sa.Column("removal_id", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(36)),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("fingerprints", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("removals")
    op.drop_index("ix_data_keys_destroyed_at", "data_keys")
    op.drop_index("ix_data_keys_period", "data_keys")
    with op.batch_alter_table("data_keys") as batch:
        batch.drop_column("period")
