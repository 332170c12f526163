"""The intake store keeps a hash of each event, not its content.

A probe read a plaintext disclosure from the intake copy of an event whose recipients'
keys had been destroyed: crypto-shredding cannot reach a copy nobody sealed. The intake
store now keeps ids, where each event arrived, and the SHA-256 of its bytes. Existing
rows get the hash of the body they kept, then the body is dropped.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("received_events") as batch:
        batch.add_column(sa.Column("sha256", sa.String(64), nullable=False, server_default=""))
    events = sa.table(
        "received_events",
        sa.column("event_id", sa.String),
        sa.column("body", sa.Text),
        sa.column("sha256", sa.String),
    )
    connection = op.get_bind()
    for event_id, body in connection.execute(sa.select(events.c.event_id, events.c.body)).all():
        digest = hashlib.sha256(body.encode()).hexdigest()
        connection.execute(
            events.update().where(events.c.event_id == event_id).values(sha256=digest)
        )
    with op.batch_alter_table("received_events") as batch:
        batch.drop_column("body")


def downgrade() -> None:
    # The content is gone for good: that is the point. The column comes back empty.
    with op.batch_alter_table("received_events") as batch:
        batch.add_column(sa.Column("body", sa.Text, nullable=False, server_default=""))
        batch.drop_column("sha256")
