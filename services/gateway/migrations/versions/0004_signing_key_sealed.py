"""Signing keys sealed at rest: a column for the AES-GCM sealed private key; the clear column may be empty.

Existing clear keys are sealed by the gateway at its next start (the encryption key is a setting, which a
migration does not read); see services/gateway/identity/keys.py.

Revision ID: 0004_signing_key_sealed
Revises: 0003_login_throttle
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_signing_key_sealed"
down_revision = "0003_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("private_key_sealed", sa.Text(), nullable=True))
    op.alter_column("signing_keys", "private_key_pem", nullable=True)


def downgrade() -> None:
    op.drop_column("signing_keys", "private_key_sealed")
    op.alter_column("signing_keys", "private_key_pem", nullable=False)
