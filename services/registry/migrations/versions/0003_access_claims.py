"""access: certificate claims, pending employments, the record of unmasked looks at personal data

Revision ID: 0003_access_claims
Revises: 0002
Create Date: 2026-11-30 05:10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_access_claims"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing certificates and employments were accepted under the old rules: they stay counted.
    op.add_column("certificates", sa.Column("verification", sa.Text(), server_default="verified", nullable=False))
    op.add_column("certificates", sa.Column("recorded_by", sa.Text(), nullable=True))
    op.add_column("certificates", sa.Column("verified_by", sa.Text(), nullable=True))
    op.add_column("certificates", sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("certificates", sa.Column("rejection_reason", sa.Text(), nullable=True))
    op.create_check_constraint(op.f("ck_certificates_verification"), "certificates",
                               "verification IN ('claimed', 'verified', 'rejected')")
    op.add_column("employments", sa.Column("confirmation", sa.Text(), server_default="confirmed", nullable=False))
    op.add_column("employments", sa.Column("recorded_by", sa.Text(), nullable=True))
    op.add_column("employments", sa.Column("confirmed_by", sa.Text(), nullable=True))
    op.add_column("employments", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f("ck_employments_confirmation"), "employments",
                               "confirmation IN ('confirmed', 'pending', 'rejected')")
    op.create_table(
        "personal_data_access",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("worker_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access")),
    )
    op.create_index("ix_personal_data_access_worker", "personal_data_access", ["worker_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_personal_data_access_worker", table_name="personal_data_access")
    op.drop_table("personal_data_access")
    op.drop_constraint(op.f("ck_employments_confirmation"), "employments", type_="check")
    for column in ("confirmed_at", "confirmed_by", "recorded_by", "confirmation"):
        op.drop_column("employments", column)
    op.drop_constraint(op.f("ck_certificates_verification"), "certificates", type_="check")
    for column in ("rejection_reason", "verified_at", "verified_by", "recorded_by", "verification"):
        op.drop_column("certificates", column)
