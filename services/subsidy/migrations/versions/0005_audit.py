"""Audit trail: audit_log chained by hash, and a capture trigger on every subsidy table that holds money or
decisions. The facts tables (certificates, registrations, service_months, service_runs) are written only
by the event consumer: their origin is audited in the service that emitted the event, and the inbox
records which event (id, topic, partition, offset) each change came from.

Revision ID: 0005_audit
Revises: 0004
"""

from alembic import op

from shared.audit.schema import capture, create_audit_trail, drop_audit_trail

revision = "0005_audit"
down_revision = "0004"
branch_labels = None
depends_on = None

CAPTURED = {
    "policies": ("", ("code", "version", "certificates_from", "rate_senior_fen", "rate_intermediate_fen",
                      "rate_assistant_fen", "qualifying_months", "cap_months", "effective_from", "effective_to")),
    "applications": ("worker_id", ("policy_code", "status", "submitted_by", "reviewed_by", "decision_reason")),
    "disbursements": ("", ("policy_code", "month", "line_count", "total_fen")),
    "ledger_lines": ("worker_id", ("kind", "policy_code", "disbursement_id", "month", "level", "amount_fen",
                                   "status", "failure_reason", "title", "awarded_on")),
    "recovery_items": ("worker_id", ("ledger_line_id", "month", "paid_fen", "due_fen", "amount_fen", "status")),
}


def upgrade() -> None:
    create_audit_trail(op)
    for table, (worker, columns) in CAPTURED.items():
        capture(op, table, worker=worker, columns=columns)


def downgrade() -> None:
    drop_audit_trail(op, tuple(CAPTURED))
