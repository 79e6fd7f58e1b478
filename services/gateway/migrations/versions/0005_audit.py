"""Audit trail: audit_log chained by hash, and a capture trigger on every gateway table.

Who may sign in and with what roles (users, clients), the signing keys, the sessions (refresh tokens) and the
sign-in throttle's counts and locks. Secrets never enter the trail: password and client-secret hashes, the
sealed (or, before 0004, clear) private keys are kept as the sha256 of their text ('#': the trail shows that
they changed, never what they hold; a hash of an argon2 hash helps no guesser); a refresh token's own digest is
left out (its id names it).

Revision ID: 0005_audit
Revises: 0004_signing_key_sealed
"""

from alembic import op

from shared.audit.schema import create_audit_trail_capturing, drop_audit_trail

revision = "0005_audit"
down_revision = "0004_signing_key_sealed"
branch_labels = None
depends_on = None

# table: (key columns, worker column, columns whose before/after the trail keeps)
CAPTURED = {
    "users": ("id", "worker_id", ("username", "#password_hash", "roles", "station_ids", "worker_id", "disabled")),
    "clients": ("client_id", "", ("#secret_hash", "name", "kind", "roles", "scopes", "disabled")),
    "signing_keys": ("kid", "", ("#private_key_sealed", "#private_key_pem", "retired_at")),
    "refresh_tokens": ("id", "", ("user_id", "family_id", "expires_at", "used_at", "revoked_at")),
    # key: user:NAME, client:ID or addr:IP; the failures and the lock they led to
    "login_throttle": ("key", "", ("failures", "blocked_until")),
}


def upgrade() -> None:
    create_audit_trail_capturing(op, CAPTURED)


def downgrade() -> None:
    drop_audit_trail(op, tuple(CAPTURED))
