"""payment cycle: notice terms per policy, the cycle of a batch, objections, bank payments, bank files and
result files, workers' notifications

Revision ID: 0007_payments
Revises: 0006_audit
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.audit.schema import capture

revision = "0007_payments"
down_revision = "0006_audit"
branch_labels = None
depends_on = None

NOW = sa.text("now()")
CAPTURED = {
    "payment_terms": ("policy_code", "", ("notice_working_days", "updated_by")),
    "payment_cycles": ("disbursement_id", "", ("status", "notice_working_days", "published_by", "notice_ends_on",
                                               "approvable_on", "approved_by", "released_by", "bank_count",
                                               "bank_total_fen")),
    "payment_objections": ("id", "worker_id", ("disbursement_id", "line_id", "reason", "status", "raised_by",
                                               "decided_by", "decision_reason")),
    "bank_payments": ("disbursement_id,seq", "worker_id", ("account_id", "amount_fen", "status", "failure_reason",
                                                          "result_file_id")),
    "bank_files": ("disbursement_id,template", "", ("sha256", "count", "total_fen")),
    "bank_result_files": ("id", "", ("disbursement_id", "sha256", "received_by")),
    "worker_notifications": ("id", "worker_id", ("disbursement_id", "month", "event", "amount_fen", "reason")),
    "webhook_subscriptions": ("id", "", ("url", "description", "active", "created_by")),  # never the secret
    "webhook_deliveries": ("id", "", ("subscription_id", "notification_id", "status", "attempts", "last_status",
                                      "last_error")),
}


def upgrade() -> None:
    op.create_table(
        "payment_terms",
        sa.Column("policy_code", sa.Text(), primary_key=True),
        sa.Column("notice_working_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("notice_working_days BETWEEN 0 AND 60", name=op.f("ck_payment_terms_days")),
    )
    op.execute("INSERT INTO payment_terms (policy_code, notice_working_days, updated_by) "
               "VALUES ('otog-talent-subsidy', 5, 'migration')")
    op.create_table(
        "payment_cycles",
        sa.Column("disbursement_id", sa.UUID(), sa.ForeignKey("disbursements.id"), primary_key=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("notice_working_days", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("notice_ends_on", sa.Date()),
        sa.Column("approvable_on", sa.Date(), nullable=False),
        sa.Column("approved_by", sa.Text()),
        sa.Column("approved_at", sa.DateTime(timezone=True)),
        sa.Column("released_by", sa.Text()),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.Column("bank_count", sa.Integer()),
        sa.Column("bank_total_fen", sa.BigInteger()),
        sa.CheckConstraint("status IN ('on_notice', 'approved', 'released', 'settled')",
                           name=op.f("ck_payment_cycles_status")),
    )
    op.create_table(
        "payment_objections",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("disbursement_id", sa.UUID(), sa.ForeignKey("disbursements.id"), nullable=False),
        sa.Column("line_id", sa.BigInteger(), sa.ForeignKey("ledger_lines.id"), nullable=False),
        sa.Column("worker_id", sa.UUID(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text()),
        sa.Column("decision_reason", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('open', 'upheld', 'dismissed')", name=op.f("ck_payment_objections_status")),
    )
    op.create_index("ix_payment_objections_batch", "payment_objections", ["disbursement_id", "worker_id"])
    op.create_table(
        "bank_payments",
        sa.Column("disbursement_id", sa.UUID(), sa.ForeignKey("disbursements.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("worker_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("account_masked", sa.Text(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("result_file_id", sa.UUID()),
        sa.UniqueConstraint("disbursement_id", "worker_id", name=op.f("uq_bank_payments_disbursement_id")),
        sa.CheckConstraint("status IN ('sent', 'paid', 'failed')", name=op.f("ck_bank_payments_status")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_bank_payments_amount")),
    )
    op.create_table(
        "bank_files",
        sa.Column("disbursement_id", sa.UUID(), sa.ForeignKey("disbursements.id"), primary_key=True),
        sa.Column("template", sa.Text(), primary_key=True),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    )
    op.create_table(
        "bank_result_files",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("disbursement_id", sa.UUID(), sa.ForeignKey("disbursements.id"), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("report", postgresql.JSONB(), nullable=False),
        sa.Column("received_by", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.UniqueConstraint("disbursement_id", "sha256", name=op.f("uq_bank_result_files_disbursement_id")),
    )
    op.create_table(
        "worker_notifications",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("worker_id", sa.UUID(), nullable=False),
        sa.Column("disbursement_id", sa.UUID(), sa.ForeignKey("disbursements.id"), nullable=False),
        sa.Column("month", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger()),
        sa.Column("reason", sa.Text()),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.UniqueConstraint("worker_id", "disbursement_id", "event", name=op.f("uq_worker_notifications_worker_id")),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("subscription_id", sa.UUID(), sa.ForeignKey("webhook_subscriptions.id"), nullable=False),
        sa.Column("notification_id", sa.UUID(), sa.ForeignKey("worker_notifications.id"), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("subscription_id", "notification_id", name=op.f("uq_webhook_deliveries_subscription_id")),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name=op.f("ck_webhook_deliveries_status")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    for table, (key, worker, columns) in CAPTURED.items():
        capture(op, table, key=key, worker=worker, columns=columns)


def downgrade() -> None:
    for table in reversed(CAPTURED):
        for action in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_capture_{action} ON {table}")
        op.drop_table(table)
