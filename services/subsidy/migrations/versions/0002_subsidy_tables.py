"""Subsidy tables: facts from events, policies, applications, disbursements, ledger, recoveries.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONTH_CHECK = r"~ '^\d{4}-(0[1-9]|1[0-2])$'"
MONTH_IDX = "(substr(month, 1, 4)::int * 12 + substr(month, 6, 2)::int - 1)"
LEVELS = "('assistant', 'intermediate', 'senior')"

STATEMENTS = [
    f"""CREATE TABLE certificates (
        certificate_id uuid PRIMARY KEY,
        worker_id uuid NOT NULL,
        level text CHECK (level IN {LEVELS}),
        certificate_no text,
        obtained_on date,
        revoked_on date,
        revocation_reason text,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX ix_certificates_worker_id ON certificates (worker_id)",
    """CREATE TABLE registrations (
        worker_id uuid PRIMARY KEY,
        registered_on date,
        division_code text,
        as_of timestamptz NOT NULL)""",
    f"""CREATE TABLE service_months (
        worker_id uuid NOT NULL,
        month text NOT NULL CONSTRAINT ck_service_months_month CHECK (month {MONTH_CHECK}),
        month_idx int GENERATED ALWAYS AS {MONTH_IDX} STORED,
        station_id uuid NOT NULL,
        full_time boolean NOT NULL,
        service_hours numeric(7, 2) NOT NULL,
        revision int NOT NULL,
        CONSTRAINT pk_service_months PRIMARY KEY (worker_id, month))""",
    "CREATE INDEX ix_service_months_station ON service_months (station_id, worker_id)",
    """CREATE TABLE policies (
        id uuid PRIMARY KEY,
        code text NOT NULL,
        version int NOT NULL CHECK (version >= 1),
        name text NOT NULL,
        division_code text NOT NULL,
        certificates_from date NOT NULL,
        rate_senior_fen int NOT NULL CHECK (rate_senior_fen >= 0),
        rate_intermediate_fen int NOT NULL CHECK (rate_intermediate_fen >= 0),
        rate_assistant_fen int NOT NULL CHECK (rate_assistant_fen >= 0),
        qualifying_months int NOT NULL CHECK (qualifying_months >= 1),
        cap_months int NOT NULL CHECK (cap_months >= 1),
        effective_from date NOT NULL,
        effective_to date CHECK (effective_to IS NULL OR effective_to >= effective_from),
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_policies_code_version UNIQUE (code, version))""",
    """CREATE TABLE applications (
        id uuid PRIMARY KEY,
        worker_id uuid NOT NULL,
        policy_code text NOT NULL,
        status text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'approved', 'rejected')),
        submitted_by text NOT NULL,
        reviewed_by text,
        decision_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz)""",
    # one open or approved application per worker and policy
    "CREATE UNIQUE INDEX uq_applications_open ON applications (worker_id, policy_code) "
    "WHERE status IN ('submitted', 'approved')",
    "CREATE INDEX ix_applications_policy_status ON applications (policy_code, status, worker_id)",
    f"""CREATE TABLE disbursements (
        id uuid PRIMARY KEY,
        policy_code text NOT NULL,
        month text NOT NULL CHECK (month {MONTH_CHECK}),
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        line_count int NOT NULL DEFAULT 0,
        total_fen bigint NOT NULL DEFAULT 0,
        CONSTRAINT uq_disbursements_policy_month UNIQUE (policy_code, month))""",
    f"""CREATE TABLE ledger_lines (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('subsidy', 'award')),
        worker_id uuid NOT NULL,
        policy_code text,
        policy_id uuid REFERENCES policies (id),
        disbursement_id uuid REFERENCES disbursements (id),
        month text CHECK (month {MONTH_CHECK}),
        month_idx int GENERATED ALWAYS AS {MONTH_IDX} STORED,
        level text CHECK (level IN {LEVELS}),
        amount_fen bigint NOT NULL CHECK (amount_fen >= 0),
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed')),
        failure_reason text,
        title text,
        awarded_on date,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        marked_at timestamptz,
        CONSTRAINT ck_ledger_lines_subsidy_fields CHECK (kind <> 'subsidy' OR (policy_code IS NOT NULL
            AND month IS NOT NULL AND disbursement_id IS NOT NULL AND level IS NOT NULL)),
        CONSTRAINT ck_ledger_lines_award_fields CHECK (kind <> 'award' OR (title IS NOT NULL
            AND awarded_on IS NOT NULL)))""",
    # One subsidy line per worker, policy and month, ever; a failed line is kept but may be paid again.
    "CREATE UNIQUE INDEX uq_ledger_lines_subsidy_month ON ledger_lines (worker_id, policy_code, month) "
    "WHERE kind = 'subsidy' AND status <> 'failed'",
    "CREATE INDEX ix_ledger_lines_disbursement ON ledger_lines (disbursement_id, id)",
    # (look-ups by worker use the unique index above, whose first column is worker_id)
    """CREATE TABLE recovery_items (
        id uuid PRIMARY KEY,
        worker_id uuid NOT NULL,
        ledger_line_id bigint NOT NULL REFERENCES ledger_lines (id),
        certificate_id uuid NOT NULL,
        month text NOT NULL,
        paid_fen bigint NOT NULL,
        due_fen bigint NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        reason text NOT NULL,
        status text NOT NULL DEFAULT 'open',
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_recovery_items_line_certificate UNIQUE (ledger_line_id, certificate_id))""",
    "CREATE INDEX ix_recovery_items_worker ON recovery_items (worker_id)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for name in ("recovery_items", "ledger_lines", "disbursements", "applications", "policies",
                 "service_months", "registrations", "certificates"):
        op.execute(f"DROP TABLE {name}")
