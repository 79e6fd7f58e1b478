"""The default policy: Otog Banner talent subsidy, trial measures (鄂托克旗社工人才补贴).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        INSERT INTO policies (id, code, version, name, division_code, certificates_from, rate_senior_fen,
            rate_intermediate_fen, rate_assistant_fen, qualifying_months, cap_months, effective_from,
            effective_to, created_by)
        VALUES ('7b0f3c5e-2f1a-4c1e-9d8a-0a1b2c3d4e01', 'otog-talent-subsidy', 1,
            '鄂托克旗社会工作人才补贴（试行）', '150624', DATE '2023-01-01', 100000, 50000, 30000, 12, 36,
            DATE '2023-01-01', NULL, 'migration')""")


def downgrade() -> None:
    op.execute("DELETE FROM policies WHERE code = 'otog-talent-subsidy' AND version = 1")
