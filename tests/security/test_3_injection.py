"""SQL, JSON and markup injection strings in every free-text field are stored and returned literally.

Stations (name), workers (name, notes, education; created and then changed), micro-projects (lead
organization, title, goals, partners), activities (title), project and subsidy-application decisions
(reasons, notes). Afterwards every table of every service database still exists and nothing vanished.
"""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from devstack.api import Api
from devstack.demo import POLICY, last_month
from devstack.demo_data import CENTRE
from shared.clock import bureau_today
from shared.validators import id_number_check_char
from tests.support import me

PAYLOADS = [
    "'; DROP TABLE workers; --",
    "\" OR 1=1 --",
    "{\"$gt\": \"\"}",
    "<script>alert(1)</script>",
    "Robert'); DROP TABLE stations;--",
    "%' OR '1'='1",
    "1; SELECT pg_sleep(10); --",
    "\\'; DELETE FROM projects WHERE '1'='1",
    "${jndi:ldap://127.0.0.1/x} {{7*7}} $(id)",
    "' UNION SELECT id_number_ciphertext FROM workers --",
]
DATABASES = ("registry", "subsidy", "projects", "gateway")


async def _tables(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        names = [r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        return {n: await conn.fetchval(f'SELECT count(*) FROM "{n}"') for n in names}
    finally:
        await conn.close()


def tables(suite) -> dict[str, dict[str, int]]:
    return {db: asyncio.run(_tables(suite.dsn(db))) for db in DATABASES}


def new_id_number(rng: random.Random) -> str:
    first17 = f"150624{rng.randrange(1975, 2000)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}" \
              f"{rng.randrange(100, 999)}"
    return first17 + id_number_check_char(first17)


@pytest.fixture(scope="module")
def before(suite):
    return tables(suite)


@pytest.fixture(scope="module")
def world(suite, before):
    admin = suite.admin()
    stations = {s["name"]: s["id"] for s in admin.all("/registry/v1/stations")}
    wulan = stations["乌兰镇社工站"]
    call = next(c for c in admin.all("/projects/v1/calls")  # the demo's call (other tests add calls of their own)
                if c["year"] == bureau_today().year and c["title"].endswith("社区发展基金小微项目"))
    staff = admin.get("/registry/v1/workers", params={"station_id": wulan, "limit": 2})["items"]
    password = "a long reviewer passphrase 1"  # a second bureau admin: the submitter may not review
    admin.post("/auth/users", {"username": "reviewer-injection", "password": password, "roles": ["bureau_admin"]})
    reviewer = Api.login(suite.gateway, "reviewer-injection", password)
    return {"admin": admin, "reviewer": reviewer, "manager": suite.login("manager1"), "centre": stations[CENTRE],
            "wulan": wulan, "call": call["id"], "staff": [w["id"] for w in staff]}


def test_station_names_are_literal(world):
    admin = world["admin"]
    for i, text in enumerate(PAYLOADS):
        created = admin.post("/registry/v1/stations", {"name": text, "kind": "township", "parent_id": world["centre"],
                                                       "division_code": f"150624{900 + i}"})
        assert created["name"] == text
        assert admin.get(f"/registry/v1/stations/{created['id']}")["name"] == text
    listed = {s["name"] for s in admin.all("/registry/v1/stations")}
    assert set(PAYLOADS) <= listed


def test_worker_fields_are_literal_on_create_change_and_search(world):
    admin, rng = world["admin"], random.Random(8)
    for i, text in enumerate(PAYLOADS):
        other = PAYLOADS[-1 - i]
        created = admin.post("/registry/v1/workers", {
            "name": text, "id_number": new_id_number(rng), "notes": text, "education": text[:50],
            "employment": {"station_id": world["wulan"], "start_date": "2024-01-01", "full_time": True,
                           "role": text[:50]}})
        assert (created["name"], created["notes"], created["education"]) == (text, text, text[:50])
        fetched = admin.get(f"/registry/v1/workers/{created['id']}")
        assert (fetched["name"], fetched["notes"], fetched["education"]) == (text, text, text[:50])
        changed = admin.request("PATCH", f"/registry/v1/workers/{created['id']}",
                                json={"name": other, "notes": other, "education": other[:50]})
        assert (changed["name"], changed["notes"], changed["education"]) == (other, other, other[:50])
        assert admin.get(f"/registry/v1/workers/{created['id']}")["notes"] == other
        # A search with the string finds only names containing it (LIKE wildcards in it are escaped).
        found = admin.all("/registry/v1/workers", q=other)
        assert created["id"] in {w["id"] for w in found}
        assert all(other in w["name"] for w in found), [w["name"] for w in found]


def test_project_activity_and_decision_texts_are_literal(world):
    admin, manager = world["admin"], world["manager"]
    for text in PAYLOADS:
        partner = {"kind": "volunteer", "name": text, "role": text, "contribution": text}
        body = {"call_id": world["call"], "station_id": world["wulan"], "lead_organization": text, "title": text,
                "category": "elderly", "goals": text, "requested_budget_fen": 100_000, "partners": [partner]}
        kept, refused = manager.post("/projects/v1/projects", body), manager.post("/projects/v1/projects", body)
        for project in (kept, refused):
            again = admin.get(f"/projects/v1/projects/{project['id']}")
            assert (again["title"], again["goals"], again["lead_organization"]) == (text, text, text)
            assert again["partners"][0] | partner == again["partners"][0], again["partners"]
            manager.post(f"/projects/v1/projects/{project['id']}/submit")
        rejected = admin.post(f"/projects/v1/projects/{refused['id']}/reject", {"reason": text})
        assert rejected["decision_reason"] == text
        assert admin.get(f"/projects/v1/projects/{refused['id']}")["decision_reason"] == text
        admin.post(f"/projects/v1/projects/{kept['id']}/approve", {"approved_budget_fen": 90_000, "reason": text})
        manager.post(f"/projects/v1/projects/{kept['id']}/start")
        activity = manager.post(f"/projects/v1/projects/{kept['id']}/activities", {
            "date": bureau_today().isoformat(), "title": text, "worker_ids": world["staff"],
            "charitable_resources": [{"description": text, "amount_fen": 100}]})
        assert activity["title"] == text
        listed = admin.all(f"/projects/v1/projects/{kept['id']}/activities")
        assert [a["title"] for a in listed] == [text]


def _eligible_without_application(admin: Api, worker1: str) -> str:
    """A demo holder certified since 2023 (so with payable months) who has not applied yet, not worker1: the
    console's tests have worker1 apply from the phone, and an application approved here took that away (one run
    in eleven: then the console approved a manager's worker owed nothing, and a later batch had a transfer less)."""
    applied = {a["worker_id"] for a in admin.all("/subsidy/v1/applications")}
    for worker in admin.all("/registry/v1/workers", registered=True):
        if worker["id"] in applied or worker["id"] == worker1:
            continue
        verdict = admin.get(f"/subsidy/v1/workers/{worker['id']}/eligibility", expect=(200, 404),
                            params={"policy": POLICY, "through": last_month(bureau_today())})
        if verdict.get("payable_months"):
            return worker["id"]
    raise AssertionError("no eligible worker without an application in the demo")


def test_application_decision_reasons_are_literal(suite, world):
    admin, reviewer = world["admin"], world["reviewer"]
    worker = _eligible_without_application(admin, me(suite.login("worker1")))
    for text in PAYLOADS:
        application = admin.post("/subsidy/v1/applications", {"worker_id": worker, "policy": POLICY})
        rejected = reviewer.post(f"/subsidy/v1/applications/{application['id']}/reject", {"reason": text})
        assert rejected["decision_reason"] == text
        assert admin.get(f"/subsidy/v1/applications/{application['id']}")["decision_reason"] == text
    application = admin.post("/subsidy/v1/applications", {"worker_id": worker, "policy": POLICY})
    approved = reviewer.post(f"/subsidy/v1/applications/{application['id']}/approve", {"note": PAYLOADS[0]})
    assert approved["status"] == "approved" and approved["decision_reason"] == PAYLOADS[0]


def test_every_table_still_exists_and_nothing_vanished(suite, before):
    after = tables(suite)
    for db in DATABASES:
        assert set(after[db]) == set(before[db]), db
        shrunk = {t: (before[db][t], n) for t, n in after[db].items() if n < before[db][t]
                  and t not in ("refresh_tokens",)}
        assert not shrunk, (db, shrunk)
    assert after["registry"]["workers"] == before["registry"]["workers"] + len(PAYLOADS)
    assert after["registry"]["stations"] == before["registry"]["stations"] + len(PAYLOADS)
    assert after["projects"]["projects"] == before["projects"]["projects"] + 2 * len(PAYLOADS)
    assert after["subsidy"]["applications"] == before["subsidy"]["applications"] + len(PAYLOADS) + 1
