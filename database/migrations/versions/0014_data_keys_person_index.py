"""Data keys found by person.

The consent service reads the keys of a batch's people before sealing
(``person_id IN (...)``), and a withdrawal destroys a recipient's keys for a person;
with no index either read scanned every key on file, so each batch cost more as people
accumulated (a tenth of the consent service at 600 records/s, and growing).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_data_keys_person_recipient", "data_keys", ["person_id", "recipient"])


def downgrade() -> None:
    op.drop_index("ix_data_keys_person_recipient", "data_keys")
