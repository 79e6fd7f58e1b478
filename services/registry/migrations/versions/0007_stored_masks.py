"""workers and bank accounts: the masked forms kept beside their ciphertexts, so lists decrypt nothing

`workers.id_number_masked` (150624**********17), `workers.phone_masked` (133****1984) and
`bank_accounts.account_masked` (6222 **** **** 1234) hold exactly what every role but an unmasking bureau_admin
is shown (`shared.validators.mask_id_number`, `mask_phone`, `bank_accounts.schemas.mask_account_number`):
nothing a reader does not already see. Existing rows are filled in by decrypting them once, here: with rows
stored, the migration needs the registry's keys (REGISTRY_ID_NUMBER_KEY and REGISTRY_LOOKUP_KEY, as the
service runs with them; `make run` and `python -m devstack migrate registry` pass them) and refuses without
them. An empty database needs none.

Revision ID: 0007_stored_masks
Revises: 0006_bank_accounts
"""

import os

import sqlalchemy as sa
from alembic import context, op

from services.registry.bank_accounts.schemas import mask_account_number
from shared.validators import mask_id_number, mask_phone

revision = "0007_stored_masks"
down_revision = "0006_bank_accounts"
branch_labels = None
depends_on = None

KEYS = ("REGISTRY_ID_NUMBER_KEY", "REGISTRY_LOOKUP_KEY")
CHUNK = 5000
# table: {masked column: (encrypted column, mask)}
MASKS = {
    "workers": {"id_number_masked": ("id_number_enc", mask_id_number), "phone_masked": ("phone_enc", mask_phone)},
    "bank_accounts": {"account_masked": ("account_enc", mask_account_number)},
}
REQUIRED = ("id_number_masked", "account_masked")  # always present (a phone is optional)


def _cipher(stored: int):
    from services.registry.crypto import PersonalDataCipher  # noqa: PLC0415

    environ = context.config.attributes.get("environ")
    environ = os.environ if environ is None else environ
    missing = [k for k in KEYS if not environ.get(k)]
    if missing:
        raise RuntimeError(f"0007_stored_masks masks the identifiers of the {stored} workers and bank accounts "
                           f"stored: it needs {' and '.join(missing)}, the keys the registry runs with")
    return PersonalDataCipher.from_keys(*(environ[k] for k in KEYS))


def _fill(bind, cipher, table: str, masks: dict) -> None:
    sources = ", ".join(source for source, _ in masks.values())
    last = None
    while True:
        rows = bind.execute(sa.text(
            f"SELECT id, {sources} FROM {table} WHERE CAST(:last AS uuid) IS NULL OR id > CAST(:last AS uuid) "
            "ORDER BY id LIMIT :n"), {"last": last, "n": CHUNK}).all()
        if not rows:
            return
        values = {"ids": [r.id for r in rows]}
        for name, (source, mask) in masks.items():
            values[name] = [mask(cipher.decrypt(blob)) if (blob := getattr(r, source)) else None for r in rows]
        arrays = ", ".join(f"CAST(:{name} AS text[])" for name in masks)
        bind.execute(sa.text(
            f"UPDATE {table} t SET {', '.join(f'{name} = m.{name}' for name in masks)} "
            f"FROM unnest(CAST(:ids AS uuid[]), {arrays}) AS m(id, {', '.join(masks)}) WHERE t.id = m.id"), values)
        last = rows[-1].id


def upgrade() -> None:
    for table, masks in MASKS.items():
        for name in masks:
            op.add_column(table, sa.Column(name, sa.Text()))
    bind = op.get_bind()
    stored = sum(bind.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() for table in MASKS)
    if stored:
        cipher = _cipher(stored)
        for table, masks in MASKS.items():
            _fill(bind, cipher, table, masks)
    for table, masks in MASKS.items():
        for name in masks:
            if name in REQUIRED:
                op.alter_column(table, name, nullable=False)


def downgrade() -> None:
    for table, masks in MASKS.items():
        for name in masks:
            op.drop_column(table, name)
