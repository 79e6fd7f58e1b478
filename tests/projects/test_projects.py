"""Micro-projects: the lifecycle state machine, the call window, budget allocation (also under concurrency), scope."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import text

from shared.clock import bureau_today
from tests.support import assert_problem


async def row(db, sql: str, **params):
    async with db.connect() as conn:
        return (await conn.execute(text(sql), params)).one()


async def test_full_lifecycle_and_the_call_allocation(world, db):
    station = await world.station()
    call = await world.call(total_budget_fen=300_000)
    project = await world.project(call["id"], station, requested=200_000)
    assert project["status"] == "draft" and project["approved_budget_fen"] is None
    assert [p["kind"] for p in project["partners"]] == ["volunteer", "charitable_resource"]
    manager = world.manager(station)
    assert (await world.step(project["id"], "submit", headers=manager)).json()["status"] == "submitted"
    approved = (await world.step(project["id"], "approve", json={"approved_budget_fen": 150_000})).json()
    assert approved["status"] == "approved" and approved["approved_budget_fen"] == 150_000
    r = await world.projects.get(f"/v1/calls/{call['id']}", headers=manager)
    assert r.json()["allocated_fen"] == 150_000 and r.json()["remaining_fen"] == 150_000
    assert (await world.step(project["id"], "start", headers=manager)).json()["status"] == "in_progress"
    assert (await world.step(project["id"], "complete", headers=manager)).json()["status"] == "completed"
    closed = (await world.step(project["id"], "close")).json()
    assert closed["status"] == "closed"
    # Nothing was spent: closing gives the whole approved budget back to the call.
    assert (await row(db, "SELECT allocated_fen FROM calls WHERE id = :i", i=call["id"])).allocated_fen == 0


async def test_rejection_allocates_nothing(world, db):
    station = await world.station()
    call = await world.call()
    project = await world.project(call["id"], station)
    await world.step(project["id"], "submit")
    r = await world.step(project["id"], "reject", json={"reason": "目标不清"})
    assert r.json()["status"] == "rejected" and r.json()["decision_reason"] == "目标不清"
    assert (await row(db, "SELECT allocated_fen FROM calls WHERE id = :i", i=call["id"])).allocated_fen == 0
    await world.step(project["id"], "start", expect=409)


async def test_illegal_transitions_are_409_and_change_nothing(world, db):
    station = await world.station()
    call = await world.call()
    draft = await world.project(call["id"], station)
    for action, body in (("approve", {"approved_budget_fen": 1000}), ("reject", None), ("start", None),
                         ("complete", None), ("close", None)):
        r = await world.projects.post(f"/v1/projects/{draft['id']}/{action}", headers=world.admin(), json=body)
        assert_problem(r, 409)
    await world.step(draft["id"], "submit")
    assert_problem(await world.projects.post(f"/v1/projects/{draft['id']}/submit", headers=world.admin()), 409)
    assert_problem(await world.projects.post(f"/v1/projects/{draft['id']}/complete", headers=world.admin()), 409)
    state = await row(db, "SELECT status, approved_budget_fen FROM projects WHERE id = :i", i=draft["id"])
    assert state.status == "submitted" and state.approved_budget_fen is None
    assert (await row(db, "SELECT allocated_fen FROM calls WHERE id = :i", i=call["id"])).allocated_fen == 0


async def test_submission_only_inside_the_window(world, db):
    station = await world.station()
    today = bureau_today()
    closed = await world.call(window_opens=str(today - timedelta(days=30)), window_closes=str(today - timedelta(1)))
    later = await world.call(window_opens=str(today + timedelta(days=1)), window_closes=str(today + timedelta(9)))
    for call, field in ((closed, "window_closes"), (later, "window_opens")):
        project = await world.project(call["id"], station)
        r = await world.projects.post(f"/v1/projects/{project['id']}/submit", headers=world.manager(station))
        assert_problem(r, 422, field=field)
        state = await row(db, "SELECT status, submitted_at FROM projects WHERE id = :i", i=project["id"])
        assert state.status == "draft" and state.submitted_at is None


async def test_approval_cannot_exceed_what_is_left_of_the_call(world, db):
    station = await world.station()
    call = await world.call(total_budget_fen=100_000)
    first = await world.project(call["id"], station, requested=70_000)
    second = await world.project(call["id"], station, requested=70_000)
    for p in (first, second):
        await world.step(p["id"], "submit")
    await world.step(first["id"], "approve", json={"approved_budget_fen": 70_000})
    r = await world.projects.post(f"/v1/projects/{second['id']}/approve", headers=world.admin(),
                                  json={"approved_budget_fen": 40_000})
    body = assert_problem(r, 422, field="approved_budget_fen")
    assert body["remaining_fen"] == 30_000
    state = await row(db, "SELECT status, approved_budget_fen FROM projects WHERE id = :i", i=second["id"])
    assert state.status == "submitted" and state.approved_budget_fen is None  # nothing half-written
    assert (await row(db, "SELECT allocated_fen FROM calls WHERE id = :i", i=call["id"])).allocated_fen == 70_000
    # More than was asked for is refused too; what is left can still be approved.
    r = await world.projects.post(f"/v1/projects/{second['id']}/approve", headers=world.admin(),
                                  json={"approved_budget_fen": 80_000})
    assert_problem(r, 422, field="approved_budget_fen")
    await world.step(second["id"], "approve", json={"approved_budget_fen": 30_000})
    assert (await row(db, "SELECT allocated_fen FROM calls WHERE id = :i", i=call["id"])).allocated_fen == 100_000


async def test_twenty_parallel_approvals_never_exceed_the_call(world, db):
    station = await world.station()
    call = await world.call(total_budget_fen=1_000_000)
    projects = [await world.project(call["id"], station, requested=70_000) for _ in range(20)]
    for p in projects:
        await world.step(p["id"], "submit")
    # 20 x 70,000 = 1,400,000 asked of a call holding 1,000,000: exactly 14 fit.
    responses = await asyncio.gather(*(
        world.projects.post(f"/v1/projects/{p['id']}/approve", headers=world.admin(),
                            json={"approved_budget_fen": 70_000}) for p in projects))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 14 and codes.count(422) == 6, codes
    totals = await row(db, "SELECT coalesce(sum(approved_budget_fen), 0) AS approved, count(*) FILTER "
                           "(WHERE status = 'approved') AS n FROM projects WHERE call_id = :c", c=call["id"])
    allocated = (await row(db, "SELECT allocated_fen FROM calls WHERE id = :i", i=call["id"])).allocated_fen
    assert totals.approved == allocated == 980_000 <= 1_000_000 and totals.n == 14


async def test_the_same_project_approved_twice_at_once_wins_once(world, db):
    station = await world.station()
    call = await world.call(total_budget_fen=1_000_000)
    project = await world.project(call["id"], station, requested=100_000)
    await world.step(project["id"], "submit")
    responses = await asyncio.gather(*(
        world.projects.post(f"/v1/projects/{project['id']}/approve", headers=world.admin(),
                            json={"approved_budget_fen": 100_000}) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
    assert (await row(db, "SELECT allocated_fen FROM calls WHERE id = :i", i=call["id"])).allocated_fen == 100_000


async def test_bad_projects_are_refused_and_nothing_is_written(world, db):
    station = await world.station()
    call = await world.call(total_budget_fen=500_000, categories=["children"])
    before = (await row(db, "SELECT count(*) AS n FROM projects")).n
    base = {"call_id": call["id"], "station_id": str(station), "lead_organization": "x", "title": "t",
            "category": "children", "goals": "g", "partners": [], "requested_budget_fen": 1000}
    cases = [({"category": "elderly"}, 422, "category"), ({"requested_budget_fen": 600_000}, 422,
                                                          "requested_budget_fen"),
             ({"call_id": str(uuid.uuid4())}, 422, "call_id"), ({"partners": [{"kind": "bank", "name": "x"}]}, 422,
                                                                 "partners.0.kind"),
             ({"requested_budget_fen": -5}, 422, "requested_budget_fen")]
    for change, status, field in cases:
        r = await world.projects.post("/v1/projects", headers=world.manager(station), json={**base, **change})
        assert_problem(r, status, field=field)
    # A station the registry does not know.
    ghost = uuid.uuid4()
    r = await world.projects.post("/v1/projects", headers=world.admin(), json={**base, "station_id": str(ghost)})
    assert_problem(r, 422, field="station_id")
    assert (await row(db, "SELECT count(*) AS n FROM projects")).n == before


async def test_scope_who_may_do_what(world, mint, db):
    mine, other = await world.station(), await world.station()
    call = await world.call()
    project = await world.project(call["id"], mine)
    manager_of_other = world.manager(other)
    # Another station's project does not exist for this manager; creating for another station is 404 too.
    assert_problem(await world.projects.get(f"/v1/projects/{project['id']}", headers=manager_of_other), 404)
    assert_problem(await world.projects.post(f"/v1/projects/{project['id']}/submit", headers=manager_of_other), 404)
    r = await world.projects.post("/v1/projects", headers=manager_of_other, json={
        "call_id": call["id"], "station_id": str(mine), "lead_organization": "x", "title": "t",
        "category": "elderly", "goals": "g", "requested_budget_fen": 1000})
    assert_problem(r, 404, field="station_id")
    # Review is the bureau's: a station manager may not approve even their own project.
    await world.step(project["id"], "submit", headers=world.manager(mine))
    r = await world.projects.post(f"/v1/projects/{project['id']}/approve", headers=world.manager(mine),
                                  json={"approved_budget_fen": 1000})
    assert_problem(r, 403)
    # The auditor reads, but never writes; HR systems and services do not use the projects service at all.
    for role in ("auditor", "hr_system", "service"):
        r = await world.projects.get(f"/v1/projects/{project['id']}", headers=mint.headers(role))
        assert r.status_code == (200 if role == "auditor" else 403)
        assert_problem(await world.projects.post(f"/v1/projects/{project['id']}/reject", headers=mint.headers(role)),
                       403)
    assert (await row(db, "SELECT status FROM projects WHERE id = :i", i=project["id"])).status == "submitted"
    # A social worker sees only projects whose activities list them (see test_activities).
    worker = mint.headers("social_worker", worker_id=uuid.uuid4())
    assert_problem(await world.projects.get(f"/v1/projects/{project['id']}", headers=worker), 404)


async def test_list_is_scoped_filtered_and_paginated(world, mint):
    a, b = await world.station(), await world.station()
    call = await world.call()
    mine = [await world.project(call["id"], a) for _ in range(5)]
    theirs = await world.project(call["id"], b)
    await world.step(mine[0]["id"], "submit")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "call_id": call["id"], **({"cursor": cursor} if cursor else {})}
        page = (await world.projects.get("/v1/projects", headers=world.manager(a), params=params)).json()
        seen += [p["id"] for p in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [p["id"] for p in mine] and theirs["id"] not in seen
    r = await world.projects.get("/v1/projects", headers=mint.headers("auditor"),
                                 params={"call_id": call["id"], "status": "submitted"})
    assert [p["id"] for p in r.json()["items"]] == [mine[0]["id"]]
    r = await world.projects.get("/v1/projects", headers=mint.headers("auditor"), params={"station_id": str(b)})
    assert [p["id"] for p in r.json()["items"]] == [theirs["id"]]
    assert_problem(await world.projects.get("/v1/projects", headers=world.admin(), params={"status": "lost"}), 422,
                   field="status")
