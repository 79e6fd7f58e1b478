"""workers: the masked ID number and phone kept beside their ciphertext, so lists decrypt nothing

`id_number_masked` (150624**********17) and `phone_masked` (133****1984) hold exactly what every role but an
unmasking bureau_admin is shown (`shared.validators.mask_id_number`, `mask_phone`): nothing a reader does not
already see. Existing rows are filled in by decrypting them once, here: with workers stored, the migration
needs the registry's keys (REGISTRY_ID_NUMBER_KEY and REGISTRY_LOOKUP_KEY, as the service runs with them;
`make run` and `python -m devstack migrate registry` pass them). An empty database needs none.

Revision ID: 0007_worker_masks
Revises: 0006_bank_accounts
"""

import os

import sqlalchemy as sa
from alembic import context, op

from shared.validators import mask_id_number, mask_phone

revision = "0007_worker_masks"
down_revision = "0006_bank_accounts"
branch_labels = None
depends_on = None

KEYS = ("REGISTRY_ID_NUMBER_KEY", "REGISTRY_LOOKUP_KEY")
CHUNK = 5000


def _cipher(stored: int):
    from services.registry.crypto import PersonalDataCipher  # noqa: PLC0415

    environ = context.config.attributes.get("environ")
    environ = os.environ if environ is None else environ
    missing = [k for k in KEYS if not environ.get(k)]
    if missing:
        raise RuntimeError(f"0007_worker_masks masks the ID numbers and phones of the {stored} workers stored: it "
                           f"needs {' and '.join(missing)}, the keys the registry runs with")
    return PersonalDataCipher.from_keys(*(environ[k] for k in KEYS))


def upgrade() -> None:
    op.add_column("workers", sa.Column("id_number_masked", sa.Text()))
    op.add_column("workers", sa.Column("phone_masked", sa.Text()))
    bind = op.get_bind()
    stored = bind.execute(sa.text("SELECT count(*) FROM workers")).scalar()
    if stored:
        cipher = _cipher(stored)
        last = None
        while True:
            rows = bind.execute(sa.text(
                "SELECT id, id_number_enc, phone_enc FROM workers WHERE CAST(:last AS uuid) IS NULL "
                "OR id > CAST(:last AS uuid) ORDER BY id LIMIT :n"), {"last": last, "n": CHUNK}).all()
            if not rows:
                break
            bind.execute(sa.text(
                "UPDATE workers w SET id_number_masked = m.id_number_masked, phone_masked = m.phone_masked "
                "FROM unnest(CAST(:ids AS uuid[]), CAST(:id_numbers AS text[]), CAST(:phones AS text[])) "
                "AS m(id, id_number_masked, phone_masked) WHERE w.id = m.id"),
                {"ids": [r.id for r in rows],
                 "id_numbers": [mask_id_number(cipher.decrypt(r.id_number_enc)) for r in rows],
                 "phones": [mask_phone(cipher.decrypt(r.phone_enc)) if r.phone_enc else None for r in rows]})
            last = rows[-1].id
    op.alter_column("workers", "id_number_masked", nullable=False)


def downgrade() -> None:
    op.drop_column("workers", "phone_masked")
    op.drop_column("workers", "id_number_masked")
