"""access: a station manager's back-dated service month awaits the bureau

Revision ID: 0003_access_awaiting_bureau
Revises: 0002
Create Date: 2026-11-30 05:20:00
"""

from alembic import op

revision = "0003_access_awaiting_bureau"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_service_reports_status_known"), "service_reports", type_="check")
    op.create_check_constraint(op.f("ck_service_reports_status_known"), "service_reports",
                               "status IN ('draft', 'awaiting_bureau', 'confirmed')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_service_reports_status_known"), "service_reports", type_="check")
    op.create_check_constraint(op.f("ck_service_reports_status_known"), "service_reports",
                               "status IN ('draft', 'confirmed')")
