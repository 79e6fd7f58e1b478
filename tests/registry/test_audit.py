"""The audit trail through the registry API: writes leave rows in their own transaction, the auditor's
endpoint, and tampering named by both the endpoint and `python -m devstack verify-audit`."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from typer.testing import CliRunner

from devstack import cli
from services.registry.app import create_app
from services.registry.settings import RegistrySettings
from shared import audit
from shared.db import make_sessionmaker
from tests.registry.conftest import new_id_number
from tests.support import asyncpg_dsn, audit_verdict, fresh_database, running_app, tamper
from tests.support import audit_rows as rows


async def test_a_write_leaves_rows_with_actor_request_id_before_and_after(app_client, api, mint):
    station = await api.station()
    id_number = new_id_number("19850612")
    headers = {**mint.headers("bureau_admin", sub="admin-wang"), "X-Request-ID": "req-audit-create"}
    body = {"name": "乌兰", "id_number": id_number, "phone": "13912345678",
            "employment": {"station_id": station["id"], "start_date": "2022-01-01", "full_time": True,
                           "role": "社工"}}
    created = await app_client.post("/v1/workers", json=body, headers=headers)
    assert created.status_code == 201, created.text
    worker_id = created.json()["id"]

    trail = await rows(app_client.database_url, "request_id = 'req-audit-create'")
    assert [(r["action"], r["entity"]) for r in trail] == [("insert", "workers"), ("insert", "employments")]
    person = trail[0]
    assert (person["actor"], person["roles"], person["method"], person["path"]) == (
        "admin-wang", "bureau_admin", "POST", "/v1/workers")
    assert str(person["worker_id"]) == worker_id and person["entity_id"] == worker_id
    assert person["before"] is None
    assert person["after"]["name"] == "乌兰" and person["after"]["birth_date"] == "1985-06-12"
    assert person["after"]["phone_enc"].startswith("sha256:")
    dumped = json.dumps(trail, default=str, ensure_ascii=False)
    assert id_number not in dumped and "13912345678" not in dumped  # the keyed hash only, never the clear ID
    assert all(r["seq"] and r["hash"] and r["prev_hash"] for r in trail)

    patched = await app_client.patch(f"/v1/workers/{worker_id}", json={"name": "乌兰图雅"},
                                     headers={**headers, "X-Request-ID": "req-audit-patch"})
    assert patched.status_code == 200, patched.text
    (change,) = await rows(app_client.database_url, "request_id = 'req-audit-patch'")
    assert (change["action"], change["before"], change["after"]) == (
        "update", {"name": "乌兰"}, {"name": "乌兰图雅"})


async def test_a_write_that_fails_leaves_no_row(app_client, mint):
    # The worker is inserted, then its employment names a station that does not exist: all rolled back.
    body = {"name": "失败", "id_number": new_id_number(), "employment": {
        "station_id": str(uuid.uuid4()), "start_date": "2022-01-01", "full_time": True, "role": "社工"}}
    headers = {**mint.headers("bureau_admin"), "X-Request-ID": "req-audit-failed"}
    response = await app_client.post("/v1/workers", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert await rows(app_client.database_url, "request_id = 'req-audit-failed'") == []
    assert await rows(app_client.database_url, "hash IS NULL") == []


async def test_a_look_at_unmasked_data_is_recorded_with_its_purpose(app_client, api):
    worker = await api.worker()
    async with make_sessionmaker(app_client.app.state.engine)() as session:
        with audit.acting_as("admin-li", method="GET", path=f"/v1/workers/{worker['id']}"):
            async with session.begin():
                await audit.record(session, action="view_personal_data", entity="workers", entity_id=worker["id"],
                                   worker_id=uuid.UUID(worker["id"]), purpose="subsidy appeal 2026-17")
            with pytest.raises(RuntimeError):
                async with session.begin():  # a look in a transaction that fails is not recorded
                    await audit.record(session, action="view_personal_data", entity="workers",
                                       entity_id=worker["id"], purpose="rolled back")
                    raise RuntimeError
    looks = await rows(app_client.database_url, "action = 'view_personal_data' AND worker_id = :w",
                       w=uuid.UUID(worker["id"]))
    assert [(r["actor"], r["purpose"]) for r in looks] == [("admin-li", "subsidy appeal 2026-17")]


async def test_an_unmasked_look_through_the_api_is_in_the_trail(app_client, api, mint):
    worker = await api.worker()
    headers = {**mint.headers("bureau_admin", sub="admin-zhao"), "X-Request-ID": "req-audit-look"}
    response = await app_client.get(f"/v1/workers/{worker['id']}",
                                    params={"unmask": "true", "purpose": "subsidy appeal 2026-18"}, headers=headers)
    assert response.status_code == 200, response.text
    (look,) = await rows(app_client.database_url, "request_id = 'req-audit-look'")
    assert (look["actor"], look["method"], look["entity"], str(look["worker_id"])) == (
        "admin-zhao", "GET", "personal_data_access", worker["id"])
    assert look["after"]["purpose"] == "subsidy appeal 2026-18" and look["after"]["subject"] == "admin-zhao"


async def test_the_auditor_endpoint_filters_masks_and_is_hidden_from_others(app_client, api, mint):
    worker = await api.worker(birth_date=None)
    for _ in range(2):
        await api.worker()
    auditor = mint.headers("auditor")
    response = await app_client.get("/v1/audit", params={"worker_id": worker["id"]}, headers=auditor)
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert item["action"] == "insert" and item["after"]["birth_date"].endswith("-**-**")
    admin_view = await app_client.get("/v1/audit", params={"worker_id": worker["id"]},
                                      headers=mint.headers("bureau_admin"))
    assert admin_view.json()["items"][0]["after"]["birth_date"] == item["after"]["birth_date"]  # masked for all
    by_actor = await app_client.get("/v1/audit", params={"actor": item["actor"], "limit": 500}, headers=auditor)
    assert by_actor.json()["items"] and {i["actor"] for i in by_actor.json()["items"]} == {item["actor"]}
    later = await app_client.get("/v1/audit", params={"from": "2999-01-01T00:00:00Z"}, headers=auditor)
    assert later.json()["items"] == []
    naive = await app_client.get("/v1/audit", params={"from": "2000-01-01T00:00:00", "to": "2999-01-01T00:00:00",
                                                       "limit": 2}, headers=auditor)
    assert naive.status_code == 200 and len(naive.json()["items"]) == 2, naive.text
    following = await app_client.get("/v1/audit", params={"cursor": naive.json()["next_cursor"], "limit": 2},
                                     headers=auditor)
    assert following.json()["items"][0]["seq"] == naive.json()["items"][1]["seq"] + 1
    verdict = await app_client.get("/v1/audit/verify", headers=auditor)
    assert verdict.json()["ok"] is True and verdict.json()["rows"] > 0
    for role in ("station_manager", "social_worker", "hr_system", "service"):
        assert (await app_client.get("/v1/audit", headers=mint.headers(role))).status_code == 404
        assert (await app_client.get("/v1/audit/verify", headers=mint.headers(role))).status_code == 404


@pytest.fixture(scope="module")
async def chain(pg, mint):
    """A registry of its own with five audit rows in five transactions, for tampering."""
    url = await fresh_database(pg, "registry")
    settings = RegistrySettings(database_url=url, auth_jwks_json=mint.jwks_json, env="test", run_relay=False)
    async with running_app(create_app(settings)) as client:
        client.database_url = url  # type: ignore[attr-defined]
        for n in range(5):
            response = await client.post("/v1/stations", json={"name": f"站{n}", "kind": "township",
                                                               "division_code": "150624100"},
                                         headers=mint.headers("bureau_admin"))
            assert response.status_code == 201, response.text
        yield client


async def broken_at(client, mint) -> tuple[dict | None, str]:
    verdict, output = await audit_verdict(client, mint.headers("auditor"), service="registry",
                                          database_url=client.database_url)
    return verdict["first_broken"], output


async def test_editing_deleting_or_swapping_rows_is_named_by_the_endpoint_and_the_cli(chain, mint):
    url = chain.database_url
    original = {r["seq"]: r for r in await rows(url)}
    assert len(original) == 5
    first, output = await broken_at(chain, mint)
    assert first is None and "intact: 5 rows" in output

    await tamper(url, """UPDATE audit_log SET after = jsonb_set(after, '{name}', '"改过"') WHERE seq = 3""")
    first, output = await broken_at(chain, mint)
    assert (first["seq"], first["id"]) == (3, original[3]["id"]) and "edited" in first["reason"]
    assert "BROKEN at seq 3" in output
    await tamper(url, f"UPDATE audit_log SET after = '{json.dumps(original[3]['after'], ensure_ascii=False)}' "
                      "WHERE seq = 3")
    assert (await broken_at(chain, mint))[0] is None

    await tamper(url, "UPDATE audit_log SET seq = -2 WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                 "UPDATE audit_log SET seq = 3 WHERE seq = -2")
    first, output = await broken_at(chain, mint)
    assert (first["seq"], first["id"]) == (2, original[3]["id"]) and "reordered" in first["reason"]
    assert "BROKEN at seq 2" in output
    await tamper(url, "UPDATE audit_log SET seq = -2 WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                 "UPDATE audit_log SET seq = 3 WHERE seq = -2")
    assert (await broken_at(chain, mint))[0] is None

    await tamper(url, "DELETE FROM audit_log WHERE seq = 4")
    first, output = await broken_at(chain, mint)
    assert (first["seq"], first["id"]) == (5, original[5]["id"]) and "rows 4..4 are missing" in first["reason"]
    assert "BROKEN at seq 5" in output

    await tamper(url, "DELETE FROM audit_log WHERE seq >= 4")
    first, output = await broken_at(chain, mint)
    assert first["seq"] == 4 and "missing at the end" in first["reason"] and "BROKEN at seq 4" in output


async def test_the_database_refuses_to_change_or_purge_young_rows(chain):
    conn = await asyncpg.connect(asyncpg_dsn(chain.database_url))
    try:
        for statement in ("DELETE FROM audit_log WHERE seq = 1", "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
                          "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE seq = 1") == 1
    finally:
        await conn.close()
    result = await asyncio.to_thread(CliRunner().invoke, cli.app, ["purge-audit", "registry"],
                                     env={"REGISTRY_DATABASE_URL": chain.database_url})
    assert result.exit_code == 0 and "0 audit rows purged" in result.output, result.output


async def test_concurrent_writers_make_one_unbroken_chain(app_client, mint):
    headers = mint.headers("bureau_admin")
    before = len(await rows(app_client.database_url))

    async def create(n: int) -> int:
        response = await app_client.post("/v1/stations", headers=headers, json={
            "name": f"并发站{n}-{uuid.uuid4().hex[:6]}", "kind": "township", "division_code": "150624100"})
        return response.status_code

    async def verify() -> dict:
        return (await app_client.get("/v1/audit/verify", headers=mint.headers("auditor"))).json()

    results = await asyncio.gather(*(create(n) for n in range(30)), *(verify() for _ in range(6)))
    assert set(results[:30]) == {201}
    assert all(v["ok"] for v in results[30:]), results[30:]  # verifying while others commit: no false alarm
    trail = await rows(app_client.database_url)
    assert len(trail) == before + 30
    assert [r["seq"] for r in trail] == list(range(trail[0]["seq"], trail[0]["seq"] + len(trail)))
    verdict = (await app_client.get("/v1/audit/verify", headers=mint.headers("auditor"))).json()
    assert verdict["ok"] and verdict["rows"] == len(trail), verdict
