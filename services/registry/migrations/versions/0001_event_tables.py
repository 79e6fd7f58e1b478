"""Event tables: outbox, inbox, dead letters.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.events.tables import create_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables(op)


def downgrade() -> None:
    for name in ("dead_letters", "inbox", "outbox"):
        op.drop_table(name)
