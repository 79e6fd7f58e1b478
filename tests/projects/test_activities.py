"""Activities: only in progress, workers employed at the station that month, spend within the budget; summaries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import text

from shared.clock import bureau_today
from tests.support import assert_problem


async def spent_and_count(db, project_id):
    async with db.connect() as conn:
        return (await conn.execute(text(
            "SELECT p.spent_fen, (SELECT count(*) FROM activities a WHERE a.project_id = p.id) AS n "
            "FROM projects p WHERE p.id = :i"), {"i": project_id})).one()


def activity(worker_ids, **overrides) -> dict:
    return {"date": str(bureau_today() - timedelta(days=1)), "title": "独居老人探访",
            "worker_ids": [str(w) for w in worker_ids], "beneficiaries": {"elderly": 12, "living_alone": 5},
            "volunteer_count": 6, "volunteer_hours": 18.5,
            "charitable_resources": [{"description": "爱心企业捐赠米面油", "amount_fen": 150_000}],
            "expense_fen": 20_000, **overrides}


async def test_activity_recorded_and_counted_against_the_budget(world, mint):
    station = await world.station()
    worker = await world.worker(station)
    project = await world.running_project(budget=100_000, station_id=station)
    r = await world.projects.post(f"/v1/projects/{project['id']}/activities", headers=world.manager(station),
                                  json=activity([worker]))
    assert r.status_code == 201, r.text
    assert r.json()["beneficiaries"] == {"elderly": 12, "living_alone": 5}
    got = (await world.projects.get(f"/v1/projects/{project['id']}", headers=world.admin())).json()
    assert got["spent_fen"] == 20_000
    # The social worker listed on the activity now sees the project (and only through it).
    as_worker = mint.headers("social_worker", worker_id=worker)
    assert (await world.projects.get(f"/v1/projects/{project['id']}", headers=as_worker)).status_code == 200
    listed = (await world.projects.get("/v1/projects", headers=as_worker)).json()["items"]
    assert [p["id"] for p in listed] == [project["id"]]
    acts = (await world.projects.get(f"/v1/projects/{project['id']}/activities", headers=as_worker)).json()
    assert len(acts["items"]) == 1 and acts["items"][0]["worker_ids"] == [str(worker)]


async def test_overspend_is_refused_and_nothing_is_written(world, db):
    station = await world.station()
    worker = await world.worker(station)
    project = await world.running_project(budget=50_000, station_id=station)
    url = f"/v1/projects/{project['id']}/activities"
    assert (await world.projects.post(url, headers=world.admin(), json=activity([worker], expense_fen=40_000))
            ).status_code == 201
    body = assert_problem(await world.projects.post(url, headers=world.admin(),
                                                    json=activity([worker], expense_fen=10_001)), 422,
                          field="expense_fen")
    assert body["remaining_fen"] == 10_000
    state = await spent_and_count(db, project["id"])
    assert state.spent_fen == 40_000 and state.n == 1


async def test_parallel_activities_never_spend_more_than_approved(world, db):
    station = await world.station()
    worker = await world.worker(station)
    project = await world.running_project(budget=100_000, station_id=station)
    url = f"/v1/projects/{project['id']}/activities"
    responses = await asyncio.gather(*(world.projects.post(url, headers=world.admin(),
                                                           json=activity([worker], expense_fen=30_000))
                                       for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 5
    state = await spent_and_count(db, project["id"])
    assert state.spent_fen == 90_000 and state.n == 3


async def test_workers_must_be_employed_at_the_station_that_month(world, db):
    station, elsewhere = await world.station(), await world.station()
    employed = await world.worker(station)
    left = await world.worker(station, start="2020-01-01", end="2021-06-30")
    stranger = await world.worker(elsewhere)
    project = await world.running_project(station_id=station)
    url = f"/v1/projects/{project['id']}/activities"
    for workers in ([employed, stranger], [left], [uuid.uuid4()]):
        r = await world.projects.post(url, headers=world.admin(), json=activity(workers))
        body = assert_problem(r, 422, field="worker_ids")
        assert set(body["not_employed"]) == {str(w) for w in workers if w != employed}
    # The one who left was employed in 2021-06, so a record of that month names them rightly.
    r = await world.projects.post(url, headers=world.admin(), json=activity([left], date="2021-06-30"))
    assert r.status_code == 201, r.text
    state = await spent_and_count(db, project["id"])
    assert state.n == 1 and state.spent_fen == 20_000


async def test_only_projects_in_progress_take_activities(world, db):
    station = await world.station()
    worker = await world.worker(station)
    call = await world.call()
    draft = await world.project(call["id"], station)
    r = await world.projects.post(f"/v1/projects/{draft['id']}/activities", headers=world.admin(),
                                  json=activity([worker]))
    assert_problem(r, 409)
    running = await world.running_project(station_id=station)
    await world.step(running["id"], "complete")
    r = await world.projects.post(f"/v1/projects/{running['id']}/activities", headers=world.admin(),
                                  json=activity([worker]))
    assert_problem(r, 409)
    assert (await spent_and_count(db, draft["id"])).n == 0 and (await spent_and_count(db, running["id"])).n == 0


async def test_bad_activities_name_the_field(world, db):
    station = await world.station()
    worker = await world.worker(station)
    project = await world.running_project(station_id=station)
    url = f"/v1/projects/{project['id']}/activities"
    cases = [({"date": str(bureau_today() + timedelta(days=1))}, "date"),
             ({"beneficiaries": {"aliens": 3}}, "beneficiaries.aliens"),
             ({"beneficiaries": {"elderly": -1}}, "beneficiaries.elderly"),
             ({"worker_ids": [str(worker), str(worker)]}, "worker_ids"), ({"worker_ids": []}, "worker_ids"),
             ({"expense_fen": -1}, "expense_fen"), ({"volunteer_hours": -2}, "volunteer_hours")]
    for change, field in cases:
        body = {**activity([worker]), **change}
        assert_problem(await world.projects.post(url, headers=world.admin(), json=body), 422, field=field)
    other = world.manager(await world.station())
    assert_problem(await world.projects.post(url, headers=other, json=activity([worker])), 404)
    assert_problem(await world.projects.post(url, headers=world.mint.headers("auditor"), json=activity([worker])), 403)
    assert (await spent_and_count(db, project["id"])).n == 0


async def test_project_and_station_summaries(world, mint):
    station = await world.station()
    worker = await world.worker(station, start="2024-01-01")
    project = await world.running_project(budget=200_000, station_id=station)
    url = f"/v1/projects/{project['id']}/activities"
    records = [
        activity([worker], date="2024-03-05", beneficiaries={"elderly": 10, "hardship": 2}, volunteer_hours=4,
                 volunteer_count=2, expense_fen=10_000, charitable_resources=[]),
        activity([worker], date="2024-03-20", beneficiaries={"elderly": 5, "children": 7}, volunteer_hours=6.5,
                 volunteer_count=3, expense_fen=15_000),
        activity([worker], date="2024-05-02", beneficiaries={"disability": 4}, volunteer_hours=2, volunteer_count=1,
                 expense_fen=5_000, charitable_resources=[{"description": "轮椅", "amount_fen": 80_000}]),
    ]
    for body in records:
        assert (await world.projects.post(url, headers=world.admin(), json=body)).status_code == 201
    summary = (await world.projects.get(f"/v1/projects/{project['id']}/summary", headers=world.manager(station))).json()
    assert summary["budget"] == {"approved_fen": 200_000, "spent_fen": 30_000, "remaining_fen": 170_000}
    assert [m["month"] for m in summary["by_month"]] == ["2024-03", "2024-05"]
    march = summary["by_month"][0]
    assert march["activities"] == 2 and march["expense_fen"] == 25_000 and march["volunteer_hours"] == 10.5
    assert march["beneficiaries"] == {"elderly": 15, "hardship": 2, "children": 7}
    assert march["charitable_fen"] == 150_000
    assert summary["totals"]["beneficiaries"] == {"elderly": 15, "hardship": 2, "children": 7, "disability": 4}
    assert summary["totals"]["volunteer_count"] == 6 and summary["totals"]["charitable_fen"] == 230_000

    st = (await world.projects.get(f"/v1/stations/{station}/summary", headers=mint.headers("auditor"),
                                   params={"from": "2024-04", "to": "2024-12"})).json()
    assert [m["month"] for m in st["by_month"]] == ["2024-05"] and st["spent_in_range_fen"] == 5_000
    assert st["budget"] == {"approved_fen": 200_000, "spent_fen": 30_000, "remaining_fen": 170_000}
    assert st["projects_by_status"] == {"in_progress": 1}
    assert_problem(await world.projects.get(f"/v1/stations/{station}/summary", headers=world.manager(uuid.uuid4())),
                   404)
    assert_problem(await world.projects.get(f"/v1/stations/{station}/summary", headers=mint.headers("auditor"),
                                            params={"from": "2024-06", "to": "2024-01"}), 422, field="to")
    assert_problem(await world.projects.get(f"/v1/stations/{station}/summary", headers=mint.headers("auditor"),
                                            params={"from": "2024-13"}), 422, field="from")


async def test_closing_gives_the_unspent_budget_back_to_the_call(world, db):
    station = await world.station()
    worker = await world.worker(station)
    project = await world.running_project(budget=100_000, station_id=station)
    r = await world.projects.post(f"/v1/projects/{project['id']}/activities", headers=world.admin(),
                                  json=activity([worker], expense_fen=35_000))
    assert r.status_code == 201
    await world.step(project["id"], "complete")
    await world.step(project["id"], "close")
    async with db.connect() as conn:
        allocated = (await conn.execute(text("SELECT allocated_fen FROM calls WHERE id = :c"),
                                        {"c": project["call_id"]})).scalar()
    assert allocated == 35_000
