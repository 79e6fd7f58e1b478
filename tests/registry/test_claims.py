"""Money-moving facts need the bureau: certificate claims, back-dated employments, trusted HR systems."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.clock import bureau_today
from tests.registry.conftest import new_id_number
from tests.support import assert_problem


async def issued_events(url: str, worker_id: str) -> list[dict]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT payload FROM outbox WHERE key = :k AND topic = 'socialwork.certificate-issued' ORDER BY id"),
                {"k": worker_id})).scalars().all()
    finally:
        await engine.dispose()
    return [json.loads(r) if isinstance(r, str | bytes) else r for r in rows]


CERT = {"level": "senior", "certificate_no": "S-1", "obtained_on": "2024-05-01"}


async def test_a_managers_certificate_is_a_claim_until_another_admin_verifies_it(app_client, api, mint):
    station = await api.station()
    w = await api.worker(station_id=station["id"])
    manager = mint.headers("station_manager", sub="manager-a", station_ids=[station["id"]])
    r = await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=manager, json=CERT)
    assert r.status_code == 201, r.text
    claim = r.json()
    assert claim["verification"] == "claimed" and claim["recorded_by"] == "manager-a"
    assert await issued_events(app_client.database_url, w["id"]) == []  # nothing reaches the subsidy service
    # it does not count as a holder either
    listed = (await app_client.get("/v1/workers", headers=api.admin, params={"level": "senior"})).json()["items"]
    assert w["id"] not in [x["id"] for x in listed]
    claims = (await app_client.get("/v1/certificate-claims", headers=mint.headers("auditor"))).json()["items"]
    assert claim["id"] in [c["id"] for c in claims]
    url = f"/v1/workers/{w['id']}/certificates/{claim['id']}"
    # not the manager, not an HR system, and not the auditor
    for headers in (manager, mint.headers("hr_system"), mint.headers("auditor")):
        assert_problem(await app_client.post(f"{url}/verify", headers=headers), 403)
    admin = mint.headers("bureau_admin", sub="admin-2")
    r = await app_client.post(f"{url}/verify", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["verification"] == "verified" and r.json()["verified_by"] == "admin-2"
    events = await issued_events(app_client.database_url, w["id"])
    assert len(events) == 1 and events[0]["data"]["level"] == "senior"
    # a second decision loses (conditional update): no second event
    assert_problem(await app_client.post(f"{url}/verify", headers=mint.headers("bureau_admin")), 409)
    assert_problem(await app_client.post(f"{url}/reject", headers=mint.headers("bureau_admin"),
                                         json={"reason": "late"}), 409)
    assert len(await issued_events(app_client.database_url, w["id"])) == 1


async def test_the_recorder_never_verifies_and_a_rejected_claim_never_counts(app_client, api, mint):
    station = await api.station()
    w = await api.worker(station_id=station["id"])
    hr = mint.headers("hr_system", sub="hr-untrusted", client_id="hr-untrusted")
    r = await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=hr, json=CERT)
    assert r.status_code == 201 and r.json()["verification"] == "claimed", r.text
    url = f"/v1/workers/{w['id']}/certificates/{r.json()['id']}"
    # an admin who is also the recorder (same subject) may not verify their own claim
    assert_problem(await app_client.post(f"{url}/verify", headers=mint.headers("bureau_admin", sub="hr-untrusted")),
                   403)
    assert_problem(await app_client.post(f"{url}/revoke", headers=api.admin,
                                         json={"revoked_on": "2024-06-01", "reason": "x"}), 409)
    r = await app_client.post(f"{url}/reject", headers=api.admin, json={"reason": "no such exam result"})
    assert r.status_code == 200 and r.json()["verification"] == "rejected"
    assert r.json()["rejection_reason"] == "no such exam result"
    assert_problem(await app_client.post(f"{url}/verify", headers=mint.headers("bureau_admin")), 409)
    assert await issued_events(app_client.database_url, w["id"]) == []


async def test_the_bureau_and_trusted_hr_systems_issue_at_once(app_client, api, mint):
    station = await api.station()
    w = await api.worker(station_id=station["id"])
    r = await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=api.admin, json=CERT)
    assert r.status_code == 201 and r.json()["verification"] == "verified"
    app = app_client.app
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"trusted_hr_clients": frozenset({"hr-trusted"})})
    try:
        trusted = mint.headers("hr_system", sub="hr-trusted", client_id="hr-trusted")
        r = await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=trusted,
                                  json={**CERT, "certificate_no": "S-2"})
        assert r.status_code == 201 and r.json()["verification"] == "verified"
        other = mint.headers("hr_system", sub="hr-other", client_id="hr-other")
        r = await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=other,
                                  json={**CERT, "certificate_no": "S-3"})
        assert r.status_code == 201 and r.json()["verification"] == "claimed"
        # the same through the bulk import: the trusted client's rows are verified, the other's claims
        for headers, no in ((trusted, "I-1"), (other, "I-2")):
            row = [{"name": "导入", "id_number": new_id_number(), "station_id": station["id"],
                    "start_date": "2024-01-01", "level": "assistant", "certificate_no": no,
                    "obtained_on": "2024-02-01"}]
            r = await app_client.post("/v1/workers/import", headers=headers, json=row)
            assert r.json()["totals"]["created"] == 1, r.text
            imported = r.json()["results"][0]["worker_id"]
            certs = (await app_client.get(f"/v1/workers/{imported}/certificates", headers=api.admin)).json()["items"]
            assert [c["verification"] for c in certs] == ["verified" if no == "I-1" else "claimed"]
            assert len(await issued_events(app_client.database_url, imported)) == (1 if no == "I-1" else 0)
    finally:
        app.state.settings = settings
    assert [e["data"]["certificate_no"] for e in await issued_events(app_client.database_url, w["id"])] == [
        "S-1", "S-2"]


async def test_a_managers_backdated_employment_counts_only_once_confirmed(app_client, api, mint):
    station = await api.station()
    manager = mint.headers("station_manager", station_ids=[station["id"]])
    long_ago = (bureau_today() - timedelta(days=200)).isoformat()
    r = await app_client.post("/v1/workers", headers=manager, json={
        "name": "李四", "id_number": new_id_number(), "employment": {
            "station_id": station["id"], "start_date": long_ago, "full_time": True, "role": "社工"}})
    assert r.status_code == 201, r.text
    w = r.json()
    employments = (await app_client.get(f"/v1/workers/{w['id']}/employments", headers=manager)).json()["items"]
    assert [e["confirmation"] for e in employments] == ["pending"]
    month = long_ago[:7]
    check = {"station_id": station["id"], "month": month, "worker_ids": [w["id"]]}
    svc = mint.headers("service")
    r = await app_client.post("/v1/internal/employment-check", headers=svc, json=check)
    assert r.json()["employed"] == [] and r.json()["not_employed"] == [w["id"]]
    pending = (await app_client.get("/v1/employment-claims", headers=api.admin)).json()["items"]
    assert employments[0]["id"] in [e["id"] for e in pending]
    url = f"/v1/workers/{w['id']}/employments/{employments[0]['id']}"
    assert_problem(await app_client.post(f"{url}/confirm", headers=manager), 403)
    r = await app_client.post(f"{url}/confirm", headers=api.admin)
    assert r.status_code == 200 and r.json()["confirmation"] == "confirmed"
    r = await app_client.post("/v1/internal/employment-check", headers=svc, json=check)
    assert r.json()["employed"] == [w["id"]]
    assert_problem(await app_client.post(f"{url}/confirm", headers=api.admin), 409)
    # a recent employment by a manager, and any by the bureau, count at once
    recent = bureau_today().replace(day=1).isoformat()
    r = await app_client.post(f"/v1/workers/{w['id']}/employments", headers=manager, json={
        "station_id": station["id"], "start_date": recent, "full_time": False, "role": "兼职"})
    assert r.status_code == 201 and r.json()["confirmation"] == "confirmed", r.text
    # the same rule in a manager's import
    row = [{"name": "王五", "id_number": new_id_number(), "station_id": station["id"], "start_date": long_ago}]
    r = await app_client.post("/v1/workers/import", headers=manager, json=row)
    imported = r.json()["results"][0]["worker_id"]
    employments = (await app_client.get(f"/v1/workers/{imported}/employments", headers=manager)).json()["items"]
    assert [e["confirmation"] for e in employments] == ["pending"]
