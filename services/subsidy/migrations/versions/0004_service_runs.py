"""Runs of confirmed full-time months per worker, kept by the service-month handler (a batch reads runs,
not three years of months per worker).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""CREATE TABLE service_runs (
        worker_id uuid NOT NULL,
        first_idx int NOT NULL,
        last_idx int NOT NULL CHECK (last_idx >= first_idx),
        CONSTRAINT pk_service_runs PRIMARY KEY (worker_id, first_idx))""")
    op.execute("""INSERT INTO service_runs (worker_id, first_idx, last_idx)
        SELECT worker_id, min(month_idx), max(month_idx) FROM (
          SELECT worker_id, month_idx,
                 month_idx - row_number() OVER (PARTITION BY worker_id ORDER BY month_idx) AS grp
          FROM service_months WHERE full_time) t
        GROUP BY worker_id, grp""")


def downgrade() -> None:
    op.execute("DROP TABLE service_runs")
