"""A screening decision's rationale and lead professional; access notices' owners.

A screening decision now needs its rationale in the screener's words (``alerts.rationale``;
an alert gathered into its family's significant-harm case names that case there), and
early help with a team around the family its lead professional; each organisation whose
records were behind a case is told the outcome (``screening_outcomes``). A
CP-IS access notice names the organisation that sent the record (``health:RQ3``), up to
the directory's 32-character codes, so its owner column is widened as the viewer's was.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screening_outcomes",
        sa.Column("alert_id", sa.String(80), primary_key=True),
        sa.Column("told", sa.String(48), primary_key=True),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("lead_professional", sa.String(200)),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("rationale", sa.Text()))
        batch.add_column(sa.Column("lead_professional", sa.String(200)))
    with op.batch_alter_table("access_notifications") as batch:
        batch.alter_column("owner", type_=sa.String(48), existing_type=sa.String(16))


def downgrade() -> None:
    op.drop_table("screening_outcomes")
    with op.batch_alter_table("access_notifications") as batch:
        batch.alter_column("owner", type_=sa.String(16), existing_type=sa.String(48))
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("lead_professional")
        batch.drop_column("rationale")
