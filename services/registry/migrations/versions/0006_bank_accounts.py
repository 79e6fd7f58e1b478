"""bank accounts of workers: every change a row, encrypted numbers, at most one verified and one pending each

Revision ID: 0006_bank_accounts
Revises: 0005_audit
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.audit.schema import capture

revision = "0006_bank_accounts"
down_revision = "0005_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_accounts",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("worker_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("bank_name", sa.Text(), nullable=False),
        sa.Column("account_enc", sa.LargeBinary(), nullable=False),
        sa.Column("holder_name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_roles", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'verified', 'rejected', 'superseded')",
                           name=op.f("ck_bank_accounts_status")),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], name=op.f("fk_bank_accounts_worker_id_workers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_accounts")),
    )
    op.create_index(op.f("ix_bank_accounts_worker_id"), "bank_accounts", ["worker_id"])
    op.create_index("uq_bank_accounts_verified", "bank_accounts", ["worker_id"], unique=True,
                    postgresql_where=sa.text("status = 'verified'"))
    op.create_index("uq_bank_accounts_pending", "bank_accounts", ["worker_id"], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))
    # The trail keeps the encrypted number only as the sha256 of its ciphertext: it shows a change, never the number.
    capture(op, "bank_accounts", worker="worker_id", columns=(
        "bank_name", "#account_enc", "holder_name", "status", "recorded_by", "decided_by", "decision_reason"))


def downgrade() -> None:
    for action in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_capture_{action} ON bank_accounts")
    op.drop_table("bank_accounts")
