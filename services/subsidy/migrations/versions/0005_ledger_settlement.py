"""The ledger as append-only entries settled at batch time: top-ups, recoveries, set-off, receivables, awards.

- ledger_lines gains the kinds `top_up` and `recovery` (stored with a positive amount: the kind says it is
  taken back) and the statuses `voided` (a pending line that stopped being due before it was paid) and
  `recorded` (a recovery, in effect from its batch). Kind `subsidy` stays the name of a month's first
  payment (the public name of the lines). One LIVE (pending or paid) subsidy line per worker, policy and
  month: after a failed or voided line the month is paid by a new line.
- disbursement_workers: one row per batch and worker (the bank pays one transfer per worker per batch):
  new months, top-ups, awards, recoveries, set-off, net to pay, receivable carried, and the transfer status.
- receivable_repayments, receivable_write_offs: what the bureau recorded as repaid, written off (proposed by
  one bureau_admin, approved by another).
- fact_changes (per worker: a sequence bumped by every fact change and the earliest month it can affect)
  and settled_workers (per policy and worker: the sequence, month and due count it was settled at): a batch
  settles month by month only the workers whose facts changed.
- award_types (the amount is data) and awards (recorded -> approved by a second bureau_admin -> paid
  through a batch).
- recovery_items stays as history; nothing new is written there. Its open items are NOT copied into
  entries: the next batch settles every worker without a settled state month by month from the facts, which
  recovers those months (copying them as well would recover twice).

Revision ID: 0005_ledger_settlement
Revises: 0004
"""

from alembic import op

revision = "0005_ledger_settlement"
down_revision = "0004"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE ledger_lines DROP CONSTRAINT ledger_lines_kind_check",
    "ALTER TABLE ledger_lines ADD CONSTRAINT ck_ledger_lines_kind "
    "CHECK (kind IN ('subsidy', 'top_up', 'recovery', 'award'))",
    "ALTER TABLE ledger_lines DROP CONSTRAINT ledger_lines_status_check",
    "ALTER TABLE ledger_lines ADD CONSTRAINT ck_ledger_lines_status "
    "CHECK (status IN ('pending', 'paid', 'failed', 'voided', 'recorded'))",
    "ALTER TABLE ledger_lines ADD CONSTRAINT ck_ledger_lines_recovery_recorded "
    "CHECK ((kind = 'recovery') = (status = 'recorded'))",
    "ALTER TABLE ledger_lines DROP CONSTRAINT ck_ledger_lines_subsidy_fields",
    "ALTER TABLE ledger_lines ADD CONSTRAINT ck_ledger_lines_subsidy_fields CHECK (kind = 'award' OR ("
    "policy_code IS NOT NULL AND month IS NOT NULL AND disbursement_id IS NOT NULL AND level IS NOT NULL))",
    "ALTER TABLE ledger_lines ADD COLUMN rule text",
    "ALTER TABLE ledger_lines ADD COLUMN reason text",
    "ALTER TABLE ledger_lines ADD COLUMN due_fen bigint",
    "ALTER TABLE ledger_lines ADD COLUMN award_id uuid",
    "DROP INDEX uq_ledger_lines_subsidy_month",
    "CREATE UNIQUE INDEX uq_ledger_lines_subsidy_month ON ledger_lines (worker_id, policy_code, month) "
    "WHERE kind = 'subsidy' AND status IN ('pending', 'paid')",
    "CREATE INDEX ix_ledger_lines_worker ON ledger_lines (worker_id, policy_code, month_idx)",
    "CREATE INDEX ix_ledger_lines_recovery ON ledger_lines (worker_id) WHERE kind = 'recovery'",
    "CREATE UNIQUE INDEX uq_ledger_lines_live_award ON ledger_lines (award_id) "
    "WHERE kind = 'award' AND status IN ('pending', 'paid')",
    """CREATE TABLE disbursement_workers (
        disbursement_id uuid NOT NULL REFERENCES disbursements (id),
        worker_id uuid NOT NULL,
        new_months int NOT NULL,
        new_months_fen bigint NOT NULL CHECK (new_months_fen >= 0),
        top_ups_fen bigint NOT NULL CHECK (top_ups_fen >= 0),
        awards_fen bigint NOT NULL CHECK (awards_fen >= 0),
        recovered_fen bigint NOT NULL CHECK (recovered_fen >= 0),
        gross_fen bigint NOT NULL CHECK (gross_fen >= 0),
        receivable_before_fen bigint NOT NULL CHECK (receivable_before_fen >= 0),
        set_off_fen bigint NOT NULL CHECK (set_off_fen >= 0 AND set_off_fen <= gross_fen
                                            AND set_off_fen <= receivable_before_fen),
        net_to_pay_fen bigint NOT NULL CHECK (net_to_pay_fen >= 0),
        receivable_after_fen bigint NOT NULL CHECK (receivable_after_fen >= 0),
        status text NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'voided')),
        failure_reason text,
        marked_at timestamptz,
        CONSTRAINT pk_disbursement_workers PRIMARY KEY (disbursement_id, worker_id),
        CONSTRAINT ck_disbursement_workers_net CHECK (net_to_pay_fen = gross_fen - set_off_fen))""",
    "CREATE INDEX ix_disbursement_workers_worker ON disbursement_workers (worker_id) WHERE set_off_fen > 0",
    """CREATE TABLE receivable_repayments (
        id uuid PRIMARY KEY,
        worker_id uuid NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        note text,
        recorded_by text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX ix_receivable_repayments_worker ON receivable_repayments (worker_id)",
    """CREATE TABLE receivable_write_offs (
        id uuid PRIMARY KEY,
        worker_id uuid NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        reason text NOT NULL,
        status text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected')),
        proposed_by text NOT NULL,
        proposed_at timestamptz NOT NULL DEFAULT now(),
        decided_by text,
        decided_at timestamptz,
        CONSTRAINT ck_receivable_write_offs_four_eyes CHECK (decided_by IS NULL OR decided_by <> proposed_by))""",
    "CREATE INDEX ix_receivable_write_offs_worker ON receivable_write_offs (worker_id)",
    "CREATE SEQUENCE fact_change_seq",
    """CREATE TABLE fact_changes (
        worker_id uuid PRIMARY KEY,
        seq bigint NOT NULL,
        from_idx int,
        changed_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE settled_workers (
        policy_code text NOT NULL,
        worker_id uuid NOT NULL,
        seq bigint,
        through_idx int NOT NULL,
        due_count int NOT NULL,
        versions_key text NOT NULL,
        CONSTRAINT pk_settled_workers PRIMARY KEY (policy_code, worker_id))""",
    """CREATE TABLE award_types (
        code text PRIMARY KEY,
        name text NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0 AND amount_fen <= 100000000),
        active boolean NOT NULL DEFAULT true)""",
    "INSERT INTO award_types (code, name, amount_fen) VALUES ('otog-talent', '鄂托克英才', 1000000)",
    """CREATE TABLE awards (
        id uuid PRIMARY KEY,
        worker_id uuid NOT NULL,
        award_type text NOT NULL REFERENCES award_types (code),
        title text NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        awarded_on date NOT NULL CHECK (awarded_on >= DATE '2000-01-01'),
        status text NOT NULL DEFAULT 'recorded' CHECK (status IN ('recorded', 'approved', 'rejected')),
        recorded_by text NOT NULL,
        decided_by text,
        decision_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz,
        CONSTRAINT ck_awards_four_eyes CHECK (decided_by IS NULL OR decided_by <> recorded_by))""",
    "CREATE INDEX ix_awards_approved ON awards (status) WHERE status = 'approved'",
    "CREATE INDEX ix_awards_worker ON awards (worker_id)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for name in ("awards", "award_types", "settled_workers", "fact_changes", "receivable_write_offs",
                 "receivable_repayments", "disbursement_workers"):
        op.execute(f"DROP TABLE {name}")
    op.execute("DROP SEQUENCE fact_change_seq")
    op.execute("DROP INDEX uq_ledger_lines_live_award")
    op.execute("DROP INDEX ix_ledger_lines_recovery")
    op.execute("DROP INDEX ix_ledger_lines_worker")
    op.execute("DROP INDEX uq_ledger_lines_subsidy_month")
    op.execute("CREATE UNIQUE INDEX uq_ledger_lines_subsidy_month ON ledger_lines (worker_id, policy_code, month) "
               "WHERE kind = 'subsidy' AND status <> 'failed'")
    for column in ("award_id", "due_fen", "reason", "rule"):
        op.execute(f"ALTER TABLE ledger_lines DROP COLUMN {column}")
