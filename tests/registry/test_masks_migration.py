"""Migration 0007 fills in the masked forms of the workers and bank accounts stored, from their ciphertexts."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from datetime import date

import asyncpg
import pytest

from services.registry.crypto import PersonalDataCipher
from shared.migrate import upgrade
from tests.registry.conftest import new_id_number


def key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


async def test_stored_workers_get_their_masks_and_the_keys_are_required(pg):
    name = f"registry_masks_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(pg.create_databases, name)
    url = pg.url(name)
    await asyncio.to_thread(upgrade, "registry", url, "0006_bank_accounts")
    keys = {"REGISTRY_ID_NUMBER_KEY": key(), "REGISTRY_LOOKUP_KEY": key()}
    cipher = PersonalDataCipher.from_keys(keys["REGISTRY_ID_NUMBER_KEY"], keys["REGISTRY_LOOKUP_KEY"])
    people = [(uuid.uuid4(), new_id_number("19800101"), "13912345678"), (uuid.uuid4(), new_id_number("19900202"), None)]
    conn = await asyncpg.connect(pg.dsn(name))
    try:
        for worker_id, id_number, phone in people:
            await conn.execute(
                "INSERT INTO workers (id, name, gender, birth_date, id_number_enc, id_number_hash, phone_enc) "
                "VALUES ($1, '旧人', 'male', $2, $3, $4, $5)", worker_id, date(1980, 1, 1),
                cipher.encrypt(id_number), cipher.lookup_hash(id_number), cipher.encrypt(phone) if phone else None)
        account = uuid.uuid4()
        await conn.execute(
            "INSERT INTO bank_accounts (id, worker_id, bank_name, account_enc, holder_name, status, recorded_by, "
            "recorded_roles) VALUES ($1, $2, '农业银行', $3, '旧人', 'verified', 'x', 'bureau_admin')",
            account, people[0][0], cipher.encrypt("6228480012345678901"))

        with pytest.raises(RuntimeError, match="REGISTRY_ID_NUMBER_KEY and REGISTRY_LOOKUP_KEY"):
            await asyncio.to_thread(upgrade, "registry", url, environ={})
        columns = await conn.fetchval("SELECT count(*) FROM information_schema.columns WHERE table_name = 'workers' "
                                      "AND column_name = 'id_number_masked'")
        assert columns == 0  # refused as a whole: nothing half-migrated

        await asyncio.to_thread(upgrade, "registry", url, environ=keys)
        stored = {r["id"]: (r["id_number_masked"], r["phone_masked"]) for r in await conn.fetch(
            "SELECT id, id_number_masked, phone_masked FROM workers")}
        assert stored == {worker_id: (id_number[:6] + "*" * 10 + id_number[-2:],
                                      phone[:3] + "****" + phone[-4:] if phone else None)
                          for worker_id, id_number, phone in people}
        assert await conn.fetchval("SELECT account_masked FROM bank_accounts WHERE id = $1", account) == (
            "6228 **** **** 8901")
        with pytest.raises(asyncpg.NotNullViolationError):  # from now on every worker has its mask
            await conn.execute("UPDATE workers SET id_number_masked = NULL")
    finally:
        await conn.close()
