"""Money-moving facts need the bureau (issue 13): what a station manager records alone moves no money.

Issue 13: a station manager recorded a senior certificate (201, certificate-issued at once) and made a
worker owed 3,300,000 fen; a manager could also create a worker with back-dated employment and confirm or
amend back-dated service months. Here, through the gateway with the demo's manager1:
- the senior certificate is a claim: no certificate-issued in the registry's outbox and no senior month in
  the worker's eligibility, until a second bureau_admin verifies it (then both appear);
- a back-dated employment is pending and does not count for a service report until the bureau confirms it;
- a back-dated service month the manager confirms awaits the bureau (no service-month event), and the
  manager cannot amend one of the station's past months.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import asyncpg
import pytest

from devstack.api import Api
from devstack.demo import POLICY, last_month
from shared.clock import bureau_today
from shared.validators import id_number_check_char
from tests.security.conftest import Suite

THROUGH = last_month(bureau_today())


def new_id_number() -> str:
    first17 = f"1506241988{random.randint(1, 12):02d}{random.randint(1, 28):02d}{random.randint(0, 999):03d}"
    return first17 + id_number_check_char(first17)


async def _outbox(dsn: str, key: str, topic: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1 AND topic = $2", key, topic)
    finally:
        await conn.close()


def outbox(suite: Suite, database: str, key: str, topic: str) -> int:
    return asyncio.run(_outbox(suite.dsn(database), key, topic))


def wait_for(check, *, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout}s")


@pytest.fixture(scope="module")
def manager(suite) -> Api:
    return suite.login("manager1")


@pytest.fixture(scope="module")
def second_admin(suite) -> Api:
    """Verification is by a bureau_admin other than the recorder; the bureau has more than one."""
    password = uuid.uuid4().hex
    suite.admin().post("/auth/users", {"username": "admin-verifier", "password": password,
                                       "roles": ["bureau_admin"]})
    return Api.login(suite.gateway, "admin-verifier", password)


def payable(api: Api, worker_id: str) -> list[dict]:
    return api.get(f"/subsidy/v1/workers/{worker_id}/eligibility",
                   params={"policy": POLICY, "through": THROUGH})["payable_months"]


def senior_months(api: Api, worker_id: str) -> list[str]:
    return [m["month"] for m in payable(api, worker_id) if m["level"] == "senior"]


def test_a_managers_senior_certificate_is_a_claim_not_money(suite, manager, second_admin):
    admin = suite.admin()
    # a worker of the manager's station, registered and full-time for years, owed months but not yet paid
    wid = next(w["id"] for w in manager.all("/registry/v1/workers") if w["registered_on"]
               and not admin.all(f"/subsidy/v1/workers/{w['id']}/payments") and payable(admin, w["id"]))
    assert senior_months(admin, wid) == []
    issued_before = outbox(suite, "registry", wid, "socialwork.certificate-issued")  # the worker's own certificates
    r = manager.http.post(f"/registry/v1/workers/{wid}/certificates", json={
        "level": "senior", "certificate_no": "SEC-13-1", "obtained_on": "2024-01-15"})
    assert r.status_code == 201, r.text
    claim = r.json()
    assert claim.get("verification") == "claimed", claim  # the old main: counted at once
    assert outbox(suite, "registry", wid, "socialwork.certificate-issued") == issued_before
    # the manager cannot make it count, nor can the recorder's own colleagues at the station
    url = f"/registry/v1/workers/{wid}/certificates/{claim['id']}"
    assert manager.http.post(f"{url}/verify").status_code == 403
    time.sleep(3)
    assert senior_months(admin, wid) == []  # no money moved
    # the bureau verifies: now, and only now, it counts
    assert claim["id"] in [c["id"] for c in admin.all("/registry/v1/certificate-claims")]
    verified = second_admin.post(f"{url}/verify")
    assert verified["verification"] == "verified"
    assert outbox(suite, "registry", wid, "socialwork.certificate-issued") == issued_before + 1
    assert "2024-02" in wait_for(lambda: senior_months(admin, wid))


def test_a_managers_backdated_employment_and_months_need_the_bureau(suite, manager):
    admin = suite.admin()
    station = manager.get("/registry/v1/workers/" + manager.all("/registry/v1/workers")[0]["id"] + "/employments")[
        "items"][0]["station_id"]
    created = manager.post("/registry/v1/workers", {
        "name": "回溯测试", "id_number": new_id_number(), "employment": {
            "station_id": station, "start_date": "2022-01-01", "full_time": True, "role": "社工"}})
    wid = created["id"]
    employment = manager.get(f"/registry/v1/workers/{wid}/employments")["items"][0]
    assert employment.get("confirmation") == "pending", employment  # the old main: counted at once
    report = {"station_id": station, "month": "2022-06",
              "entries": [{"worker_id": wid, "full_time": True, "service_hours": 168}]}
    r = manager.http.post("/projects/v1/service-reports", json=report)
    assert r.status_code == 422 and wid in r.json()["not_employed"], r.text  # a pending employment does not count
    admin.post(f"/registry/v1/workers/{wid}/employments/{employment['id']}/confirm")
    filed = manager.post("/projects/v1/service-reports", report)
    confirmed = manager.post(f"/projects/v1/service-reports/{filed['id']}/confirm")
    assert confirmed["status"] == "awaiting_bureau"
    assert outbox(suite, "projects", wid, "socialwork.service-month") == 0
    assert admin.post(f"/projects/v1/service-reports/{filed['id']}/confirm")["status"] == "confirmed"
    assert outbox(suite, "projects", wid, "socialwork.service-month") == 1
    # a past month of the station (confirmed in the demo) cannot be rewritten by the manager alone
    past = manager.get("/projects/v1/service-reports", params={"station_id": station, "month": "2024-03"})["items"][0]
    r = manager.http.post(f"/projects/v1/service-reports/{past['id']}/amend", json={"entries": [
        {"worker_id": past["entries"][0]["worker_id"], "full_time": True, "service_hours": 1}]})
    assert r.status_code == 403, r.text
