"""Registry app fixture (one database for the module) and small factories."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from services.registry.app import create_app
from services.registry.bank_accounts.schemas import mask_account_number
from services.registry.settings import RegistrySettings
from shared.validators import id_number_check_char, mask_id_number, mask_phone
from tests.support import fresh_database, running_app

_seq = itertools.count(1)


def new_id_number(birth: str | None = None, *, male: bool = True) -> str:
    """A valid resident ID number (area 150624, Otog Banner), unique within a run."""
    if birth is None:
        birth = (date(1960, 1, 1) + timedelta(days=random.randrange(15000))).strftime("%Y%m%d")
    serial = (next(_seq) % 500) * 2 + (1 if male else 0)
    first17 = f"150624{birth}{serial:03d}"
    return first17 + id_number_check_char(first17)


def new_phone() -> str:
    return f"139{random.randint(0, 99_999_999):08d}"


@pytest.fixture(scope="module")
async def app_client(pg, broker, mint):
    url = await fresh_database(pg, "registry")
    settings = RegistrySettings(database_url=url, kafka_bootstrap_servers=broker.bootstrap,
                                auth_jwks_json=mint.jwks_json, env="test")
    async with running_app(create_app(settings)) as client:
        client.database_url = url  # type: ignore[attr-defined]
        yield client


class Api:
    """Thin helpers that call the real API as a bureau admin."""

    def __init__(self, client, mint):
        self.client = client
        self.mint = mint
        self.admin = mint.headers("bureau_admin")

    async def station(self, name: str | None = None, *, kind: str = "township", parent_id=None, **extra) -> dict:
        body = {"name": name or f"站-{uuid.uuid4().hex[:8]}", "kind": kind, "division_code": "150624100",
                **({"parent_id": str(parent_id)} if parent_id else {}), **extra}
        r = await self.client.post("/v1/stations", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()

    async def worker(self, *, station_id=None, start_date="2022-01-01", full_time=True, **extra) -> dict:
        body = {"name": "张三", "id_number": new_id_number(), "phone": new_phone(), **extra}
        if station_id:
            body["employment"] = {"station_id": str(station_id), "start_date": start_date, "full_time": full_time,
                                  "role": "社工站社工"}
        r = await self.client.post("/v1/workers", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture(scope="module")
def api(app_client, mint) -> Api:
    return Api(app_client, mint)


async def assert_masks_stored(client) -> int:
    """Every worker's stored masked ID number and phone, and every bank account's masked number, are the masks of
    what their ciphertexts hold (lists show them without decrypting, so every write has to keep them). Returns
    how many workers were checked."""
    cipher = client.app.state.cipher
    async with client.app.state.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT id_number_enc, id_number_masked, phone_enc, phone_masked FROM workers"))).all()
        accounts = (await conn.execute(text("SELECT account_enc, account_masked FROM bank_accounts"))).all()
    for id_enc, id_masked, phone_enc, phone_masked in rows:
        assert id_masked == mask_id_number(cipher.decrypt(id_enc))
        assert phone_masked == (mask_phone(cipher.decrypt(phone_enc)) if phone_enc else None)
    for account_enc, account_masked in accounts:
        assert account_masked == mask_account_number(cipher.decrypt(account_enc))
    return len(rows)
