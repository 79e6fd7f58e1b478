"""import reviews: rows that may be a known person under another ID number; workers by name and birth date

Revision ID: 0004_import_reviews
Revises: 0003_access_claims
Create Date: 2026-11-30 05:10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_import_reviews"
down_revision = "0003_access_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_reviews",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("id_number_hash", sa.LargeBinary(), nullable=False),
        sa.Column("worker_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("row_enc", sa.LargeBinary(), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_worker_id", sa.UUID(), nullable=True),
        sa.Column("kept", sa.Text(), nullable=True),
        sa.Column("alias_hash", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'merged', 'confirmed')", name=op.f("ck_import_reviews_status")),
        sa.CheckConstraint("kept IN ('existing', 'incoming')", name=op.f("ck_import_reviews_kept")),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], name=op.f("fk_import_reviews_worker_id_workers")),
        sa.ForeignKeyConstraint(["result_worker_id"], ["workers.id"],
                                name=op.f("fk_import_reviews_result_worker_id_workers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_reviews")),
    )
    op.create_index(op.f("ix_import_reviews_worker_id"), "import_reviews", ["worker_id"])
    op.create_index("uq_import_reviews_pending_hash", "import_reviews", ["id_number_hash"], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("uq_import_reviews_alias_hash", "import_reviews", ["alias_hash"], unique=True,
                    postgresql_where=sa.text("alias_hash IS NOT NULL"))
    op.create_index("ix_workers_name_birth_date", "workers", ["name", "birth_date"])


def downgrade() -> None:
    op.drop_index("ix_workers_name_birth_date", table_name="workers")
    op.drop_table("import_reviews")
