"""indexes that cover the certificate holders' stats (GET /v1/stats), so it reads them in worker order from the
indexes alone

`GET /v1/stats` groups every verified certificate by worker (highest valid level, first obtained, last revoked)
and every current employment at a station by worker, then merges the two by worker: with these it reads both
from index-only scans already in worker order, without the table or a sort (bench/dashboard.py, 100,000
workers). Each index holds only the columns that query reads; the partial conditions are the ones it always
applies. Reads need the visibility map to be current, which autovacuum keeps.

Revision ID: 0008_holder_indexes
Revises: 0007_stored_masks
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_holder_indexes"
down_revision = "0007_stored_masks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_certificates_verified_worker", "certificates", ["worker_id"],
                    postgresql_include=["level", "status", "obtained_on", "revoked_on"],
                    postgresql_where=sa.text("verification = 'verified'"))
    op.create_index("ix_employments_station_by_worker", "employments", ["worker_id"],
                    postgresql_include=["station_id", "confirmation", "start_date", "end_date"],
                    postgresql_where=sa.text("station_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_employments_station_by_worker", table_name="employments")
    op.drop_index("ix_certificates_verified_worker", table_name="certificates")
