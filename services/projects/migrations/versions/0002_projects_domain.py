"""Fund calls, micro-projects, activities and monthly station service reports.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("total_budget_fen", sa.BigInteger, nullable=False),
        sa.Column("allocated_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("categories", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("window_opens", sa.Date, nullable=False),
        sa.Column("window_closes", sa.Date, nullable=False),
        sa.Column("division_code", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("allocated_fen >= 0 AND allocated_fen <= total_budget_fen",
                           name="allocation_within_budget"),
        sa.CheckConstraint("window_closes >= window_opens", name="window_order"),
    )
    op.create_table(
        "projects",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("call_id", pg.UUID(as_uuid=True), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("station_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("lead_organization", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("goals", sa.Text, nullable=False),
        sa.Column("partners", pg.JSONB, nullable=False),
        sa.Column("requested_budget_fen", sa.BigInteger, nullable=False),
        sa.Column("approved_budget_fen", sa.BigInteger),
        sa.Column("spent_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("status", sa.Text, nullable=False, server_default="draft"),
        sa.Column("decision_reason", sa.Text),
        sa.Column("decided_by", sa.Text),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('draft', 'submitted', 'approved', 'rejected', 'in_progress', 'completed', "
                           "'closed')", name="status_known"),
        sa.CheckConstraint("spent_fen >= 0 AND spent_fen <= coalesce(approved_budget_fen, 0)",
                           name="spend_within_budget"),
    )
    op.create_index("ix_projects_station", "projects", ["station_id", "created_at"])
    op.create_index("ix_projects_call", "projects", ["call_id"])
    op.create_table(
        "activities",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("project_id", pg.UUID(as_uuid=True), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("station_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("worker_ids", pg.ARRAY(pg.UUID(as_uuid=True)), nullable=False),
        sa.Column("beneficiaries", pg.JSONB, nullable=False),
        sa.Column("volunteer_count", sa.Integer, nullable=False),
        sa.Column("volunteer_hours", sa.Numeric(10, 2), nullable=False),
        sa.Column("charitable_resources", pg.JSONB, nullable=False),
        sa.Column("expense_fen", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("expense_fen >= 0 AND volunteer_count >= 0 AND volunteer_hours >= 0",
                           name="non_negative"),
    )
    op.create_index("ix_activities_project", "activities", ["project_id", "date"])
    op.create_index("ix_activities_station", "activities", ["station_id", "date"])
    op.create_index("ix_activities_workers", "activities", ["worker_ids"], postgresql_using="gin")
    op.create_table(
        "service_reports",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("station_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("month", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="draft"),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("confirmed_by", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("amended_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("station_id", "month", name="uq_service_reports_station_month"),
        sa.CheckConstraint("status IN ('draft', 'confirmed')", name="status_known"),
    )
    op.create_table(
        "service_report_entries",
        sa.Column("report_id", pg.UUID(as_uuid=True), sa.ForeignKey("service_reports.id"), primary_key=True),
        sa.Column("worker_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("full_time", sa.Boolean, nullable=False),
        sa.Column("service_hours", sa.Numeric(7, 2), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("service_hours >= 0 AND revision >= 1", name="valid"),
    )
    op.create_index("ix_service_report_entries_worker", "service_report_entries", ["worker_id"])


def downgrade() -> None:
    for name in ("service_report_entries", "service_reports", "activities", "projects", "calls"):
        op.drop_table(name)
