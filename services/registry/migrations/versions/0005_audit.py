"""Audit trail: audit_log chained by hash, and a capture trigger on every registry table people change.

Revision ID: 0005_audit
Revises: 0004_import_reviews
"""

from alembic import op

from shared.audit.schema import capture, create_audit_trail, drop_audit_trail

revision = "0005_audit"
down_revision = "0004_import_reviews"
branch_labels = None
depends_on = None

# table: (worker column, columns whose before/after the trail keeps). ID numbers only as their keyed hash;
# the encrypted phone as the sha256 of its ciphertext ('#'): the trail shows it changed, never what it holds.
CAPTURED = {
    "workers": ("id", ("name", "gender", "birth_date", "id_number_hash", "#phone_enc", "full_time",
                       "registered_on", "registration_division_code")),
    "certificates": ("worker_id", ("level", "certificate_no", "obtained_on", "status", "revoked_on",
                                   "revoke_reason", "verification", "recorded_by", "verified_by", "rejection_reason")),
    "employments": ("worker_id", ("station_id", "organization_id", "start_date", "end_date", "full_time", "role",
                                  "confirmation", "recorded_by", "confirmed_by")),
    # A bureau_admin's look at unmasked personal data (privacy/service.py writes one row per worker seen): the
    # trail gets who, whose, why and which fields, in the same transaction.
    "personal_data_access": ("worker_id", ("subject", "roles", "client_id", "purpose", "fields", "action")),
    "import_reviews": ("worker_id", ("status", "id_number_hash", "name", "birth_date", "reason", "created_by",
                                     "resolved_by", "result_worker_id", "kept")),
    "trainings": ("worker_id", ("kind", "hours", "start_date", "end_date")),
    "honours": ("worker_id", ("title", "awarded_on", "level")),
    "stations": ("", ("name", "kind", "parent_id", "division_code", "star_rating")),
    "organizations": ("", ("name", "type", "credit_code")),
}


def upgrade() -> None:
    create_audit_trail(op)
    for table, (worker, columns) in CAPTURED.items():
        capture(op, table, worker=worker, columns=columns)


def downgrade() -> None:
    drop_audit_trail(op, tuple(CAPTURED))
