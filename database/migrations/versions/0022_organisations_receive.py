"""Each school, trust and landlord receives as itself: recipients written as organisations.

A view, a decision, a data key and an audit entry named a recipient type (``schools``);
they now name the organisation (``school:103291``, up to the directory's 32-character
codes), so the columns that hold a recipient, and the ids built from one, are widened.
Rows written before keep their type-wide names: ``ehx organisations legacy`` reports
them, and the school each maps to where the roll tells.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

#: (table, column, width before, width now)
WIDENED = (
    ("sharing_decisions", "recipient", 16, 48),
    ("sharing_decisions", "decision_id", 60, 100),
    ("data_keys", "recipient", 16, 48),
    ("data_keys", "key_id", 80, 120),
    ("timeline_entries", "recipient", 16, 48),
    ("timeline_people", "recipient", 16, 48),
    ("audit_ledger", "agency", 16, 48),
    ("access_notifications", "viewer", 16, 48),
)


def upgrade() -> None:
    for table, column, before, now in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(now), existing_type=sa.String(before))


def downgrade() -> None:
    for table, column, before, now in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(before), existing_type=sa.String(now))
