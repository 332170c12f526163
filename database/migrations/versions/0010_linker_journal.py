"""The linker's journal: every merge, split and keep-apart of people, in order.

Replayed on start after the mentions, so merges (automatic or a reviewer's) and splits
survive restarts exactly. Reviewers' decisions already taken are copied in.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linker_journal",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("a", sa.String(32), nullable=False),
        sa.Column("b", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(80), nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("reason", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    # A person's members are found by walking merges down (a) and each id's fate up (b).
    op.create_index("ix_linker_journal_a", "linker_journal", ["a"])
    op.create_index("ix_linker_journal_b", "linker_journal", ["b"])
    op.execute(
        "INSERT INTO linker_journal (op, a, b, cause, decided_by, reason, at) "
        "SELECT CASE WHEN same_person THEN 'merge' ELSE 'apart' END, "
        "CASE WHEN person_id < candidate_id THEN person_id ELSE candidate_id END, "
        "CASE WHEN person_id < candidate_id THEN candidate_id ELSE person_id END, "
        "review_id, decided_by, reason, decided_at "
        "FROM link_reviews WHERE decided_at IS NOT NULL ORDER BY decided_at"
    )


def downgrade() -> None:
    op.drop_table("linker_journal")
