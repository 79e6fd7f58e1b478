"""Audit trail: audit_log chained by hash, and a capture trigger on every subsidy table that holds money or
decisions. The facts tables (certificates, registrations, service_months, service_runs, fact_changes) are
written only by the event consumer: their origin is audited in the service that emitted the event, and the
inbox records which event (id, topic, partition, offset) each change came from. settled_workers is the
batch's bookkeeping of how far each worker was settled; the money it settles is in ledger_lines and
disbursement_workers.

Revision ID: 0006_audit
Revises: 0005_ledger_settlement
"""

from alembic import op

from shared.audit.schema import create_audit_trail_capturing, drop_audit_trail

revision = "0006_audit"
down_revision = "0005_ledger_settlement"
branch_labels = None
depends_on = None

# table: (key columns, worker column, columns whose before/after the trail keeps)
CAPTURED = {
    "policies": ("id", "", ("code", "version", "certificates_from", "rate_senior_fen", "rate_intermediate_fen",
                            "rate_assistant_fen", "qualifying_months", "cap_months", "effective_from",
                            "effective_to")),
    "applications": ("id", "worker_id", ("policy_code", "status", "submitted_by", "reviewed_by", "decision_reason")),
    "disbursements": ("id", "", ("policy_code", "month", "line_count", "total_fen")),
    "disbursement_workers": ("disbursement_id,worker_id", "worker_id", (
        "new_months", "new_months_fen", "top_ups_fen", "awards_fen", "recovered_fen", "gross_fen",
        "receivable_before_fen", "set_off_fen", "net_to_pay_fen", "receivable_after_fen", "status",
        "failure_reason")),
    "ledger_lines": ("id", "worker_id", ("kind", "policy_code", "disbursement_id", "month", "level", "amount_fen",
                                         "due_fen", "status", "failure_reason", "rule", "reason", "title",
                                         "awarded_on", "award_id")),
    "recovery_items": ("id", "worker_id", ("ledger_line_id", "month", "paid_fen", "due_fen", "amount_fen",
                                           "status")),
    "receivable_repayments": ("id", "worker_id", ("amount_fen", "note", "recorded_by")),
    "receivable_write_offs": ("id", "worker_id", ("amount_fen", "reason", "status", "proposed_by", "decided_by")),
    "award_types": ("code", "", ("name", "amount_fen", "active")),
    "awards": ("id", "worker_id", ("award_type", "title", "amount_fen", "awarded_on", "status", "recorded_by",
                                   "decided_by", "decision_reason")),
}


def upgrade() -> None:
    create_audit_trail_capturing(op, CAPTURED)


def downgrade() -> None:
    drop_audit_trail(op, tuple(CAPTURED))
