"""Audit trail: audit_log chained by hash, and a capture trigger on every projects table.

Revision ID: 0004_audit
Revises: 0003_access_awaiting_bureau
"""

from alembic import op

from shared.audit.schema import create_audit_trail_capturing, drop_audit_trail

revision = "0004_audit"
down_revision = "0003_access_awaiting_bureau"
branch_labels = None
depends_on = None

# table: (key columns, worker column, columns whose before/after the trail keeps)
CAPTURED = {
    "calls": ("id", "", ("title", "total_budget_fen", "allocated_fen", "window_opens", "window_closes")),
    "projects": ("id", "", ("station_id", "status", "requested_budget_fen", "approved_budget_fen", "spent_fen",
                            "decided_by", "decision_reason")),
    "activities": ("id", "", ("date", "worker_ids", "volunteer_hours", "expense_fen")),
    "service_reports": ("id", "", ("station_id", "month", "status", "confirmed_by")),
    "service_report_entries": ("report_id,worker_id", "worker_id", ("full_time", "service_hours", "revision")),
}


def upgrade() -> None:
    create_audit_trail_capturing(op, CAPTURED)


def downgrade() -> None:
    drop_audit_trail(op, tuple(CAPTURED))
