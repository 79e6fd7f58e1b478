"""Applications (申报): who may submit, one open application, review by someone else, scoped reads."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from tests.subsidy.conftest import POLICY, STATION
from tests.support import assert_problem


async def count_applications(client, worker_id) -> int:
    async with client.app.state.engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM applications WHERE worker_id = :w"),
                                   {"w": worker_id})).scalar()


async def test_worker_applies_once_and_another_admin_reviews(client, events, mint, admin):
    worker = uuid.uuid4()
    me = mint.headers("social_worker", worker_id=worker, sub="worker-self")
    response = await client.post("/v1/applications", json={"worker_id": str(worker), "policy": POLICY}, headers=me)
    assert response.status_code == 201, response.text
    application = response.json()
    assert (application["status"], application["submitted_by"], application["policy"]) == \
        ("submitted", "worker-self", POLICY)
    assert_problem(await client.post("/v1/applications", json={"worker_id": str(worker), "policy": POLICY},
                                     headers=admin), 409)
    assert_problem(await client.post(f"/v1/applications/{application['id']}/approve", headers=me), 403)
    assert_problem(await client.post(f"/v1/applications/{application['id']}/reject", json={}, headers=admin), 422,
                   field="reason")
    # two reviewers at once: exactly one wins
    results = await asyncio.gather(*(client.post(f"/v1/applications/{application['id']}/approve",
                                                 headers=mint.headers("bureau_admin")) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
    decided = (await client.get(f"/v1/applications/{application['id']}", headers=me)).json()
    assert decided["status"] == "approved" and decided["reviewed_by"].startswith("user-")
    assert_problem(await client.post(f"/v1/applications/{application['id']}/reject", json={"reason": "late"},
                                     headers=admin), 409)
    assert await count_applications(client, worker) == 1


async def test_reviewer_may_not_be_the_submitter(client, mint):
    worker = uuid.uuid4()
    clerk = mint.headers("bureau_admin", sub="clerk-1")
    response = await client.post("/v1/applications", json={"worker_id": str(worker), "policy": POLICY}, headers=clerk)
    assert response.status_code == 201
    app_id = response.json()["id"]
    assert_problem(await client.post(f"/v1/applications/{app_id}/approve", headers=clerk), 403)
    assert (await client.get(f"/v1/applications/{app_id}", headers=clerk)).json()["status"] == "submitted"
    rejected = await client.post(f"/v1/applications/{app_id}/reject", json={"reason": "no certificate yet"},
                                 headers=mint.headers("bureau_admin", sub="clerk-2"))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    # a rejected application does not block a new one
    again = await client.post("/v1/applications", json={"worker_id": str(worker), "policy": POLICY}, headers=clerk)
    assert again.status_code == 201


async def test_who_may_submit(client, events, mint):
    worker, stranger = uuid.uuid4(), uuid.uuid4()
    await events.deliver(events.month(worker, "2024-03"))
    body = {"worker_id": str(worker), "policy": POLICY}
    assert_problem(await client.post("/v1/applications", json=body,
                                     headers=mint.headers("social_worker", worker_id=stranger)), 404)
    assert_problem(await client.post("/v1/applications", json=body,
                                     headers=mint.headers("station_manager", station_ids=[uuid.uuid4()])), 404)
    assert_problem(await client.post("/v1/applications", json=body, headers=mint.headers("auditor")), 403)
    assert_problem(await client.post("/v1/applications", json={**body, "policy": "nope"},
                                     headers=mint.headers("bureau_admin")), 422, field="policy")
    assert_problem(await client.post("/v1/applications", json={**body, "extra": 1},
                                     headers=mint.headers("bureau_admin")), 422, field="extra")
    assert await count_applications(client, worker) == 0  # nothing half-written
    manager = mint.headers("station_manager", station_ids=[STATION])
    response = await client.post("/v1/applications", json=body, headers=manager)
    assert response.status_code == 201, response.text


async def test_reads_are_scoped(client, events, mint):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    station = uuid.uuid4()
    await events.deliver(events.month(theirs, "2024-03", station_id=station))
    admin = mint.headers("bureau_admin")
    ids = {}
    for w in (mine, theirs):
        ids[w] = (await client.post("/v1/applications", json={"worker_id": str(w), "policy": POLICY},
                                    headers=admin)).json()["id"]
    me = mint.headers("social_worker", worker_id=mine)
    listed = (await client.get("/v1/applications", headers=me)).json()["items"]
    assert {a["worker_id"] for a in listed} == {str(mine)}
    assert_problem(await client.get(f"/v1/applications/{ids[theirs]}", headers=me), 404)
    manager = mint.headers("station_manager", station_ids=[station])
    listed = (await client.get("/v1/applications", headers=manager)).json()["items"]
    assert {a["worker_id"] for a in listed} == {str(theirs)}
    everything = (await client.get("/v1/applications", params={"limit": 500}, headers=mint.headers("auditor")))
    assert {str(mine), str(theirs)} <= {a["worker_id"] for a in everything.json()["items"]}
    assert_problem(await client.get("/v1/applications", headers=mint.headers()), 403)  # no role: not a user here
    assert_problem(await client.get("/v1/applications", headers=mint.headers("hr_system")), 403)
