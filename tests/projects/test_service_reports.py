"""Monthly station service reports: employment checked at the registry, one service-month event per entry on
confirmation, one more per changed entry on amendment, and a quick 503 when the registry is down."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text

from devstack.embedded import free_port
from services.projects.app import create_app
from shared.contracts.events import TOPICS, EventType
from shared.registry_client import RegistryClient
from tests.projects.helpers import next_month, read_topic, this_month
from tests.support import assert_problem, running_app

TOPIC = TOPICS[EventType.SERVICE_MONTH]
# A month a station manager's confirmation makes count on its own (not more than two months back).
RECENT = this_month()


def report(station, entries, month="2024-05") -> dict:
    return {"station_id": str(station), "month": month,
            "entries": [{"worker_id": str(w), "full_time": ft, "service_hours": h} for w, ft, h in entries]}


def per_worker_data(events: list) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in events:
        out.setdefault(e["data"]["worker_id"], []).append(e["data"])
    return out


async def counts(db, station) -> tuple[int, int]:
    """Reports of the station and outbox rows of every event, for "nothing was written" checks."""
    async with db.connect() as conn:
        reports = (await conn.execute(text("SELECT count(*) FROM service_reports WHERE station_id = :s"),
                                      {"s": station})).scalar()
        outbox = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar()
    return reports, outbox


async def test_confirm_emits_one_event_per_entry_and_amend_one_more_per_change(world, broker, db):
    station = await world.station()
    workers = [await world.worker(station) for _ in range(3)]
    keys = {str(w) for w in workers}
    manager = world.manager(station)
    entries = [(w, True, 160 + i) for i, w in enumerate(workers)]
    r = await world.projects.post("/v1/service-reports", headers=manager, json=report(station, entries, month=RECENT))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "draft" and [e["revision"] for e in created["entries"]] == [1, 1, 1]
    # A draft emits nothing.
    assert await read_topic(broker.bootstrap, TOPIC, keys=keys, want=1, timeout=1.0, settle=0) == []

    r = await world.projects.post(f"/v1/service-reports/{created['id']}/confirm", headers=manager)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    events = await read_topic(broker.bootstrap, TOPIC, keys=keys, want=3, timeout=10.0)
    assert len(events) == 3
    by_worker = {e["data"]["worker_id"]: e for e in events}
    assert set(by_worker) == keys
    for i, w in enumerate(workers):
        e = by_worker[str(w)]
        assert e["type"] == EventType.SERVICE_MONTH.value and e["source"] == "projects"
        assert e["data"] == {"worker_id": str(w), "station_id": str(station), "month": RECENT, "full_time": True,
                             "service_hours": 160.0 + i, "revision": 1}

    # A second confirmation fails and emits nothing.
    _, outbox_before = await counts(db, station)
    assert_problem(await world.projects.post(f"/v1/service-reports/{created['id']}/confirm", headers=manager), 409)
    assert (await counts(db, station))[1] == outbox_before

    # Amend: all entries sent, one changed (hours), one unchanged, one changed (no longer full-time).
    body = {"entries": [{"worker_id": str(workers[0]), "full_time": True, "service_hours": 120},
                        {"worker_id": str(workers[1]), "full_time": True, "service_hours": 161},
                        {"worker_id": str(workers[2]), "full_time": False, "service_hours": 162}]}
    r = await world.projects.post(f"/v1/service-reports/{created['id']}/amend", headers=manager, json=body)
    assert r.status_code == 200, r.text
    assert set(r.json()["changed_worker_ids"]) == {str(workers[0]), str(workers[2])}
    revisions = {e["worker_id"]: e["revision"] for e in r.json()["entries"]}
    assert revisions == {str(workers[0]): 2, str(workers[1]): 1, str(workers[2]): 2}
    events = await read_topic(broker.bootstrap, TOPIC, keys=keys, want=5, timeout=10.0)
    assert len(events) == 5
    # Order is kept per worker (the partition key), not across workers.
    per_worker = per_worker_data(events)
    assert {w: [d["revision"] for d in ds] for w, ds in per_worker.items()} == {
        str(workers[0]): [1, 2], str(workers[1]): [1], str(workers[2]): [1, 2]}
    assert (per_worker[str(workers[0])][-1]["full_time"], per_worker[str(workers[0])][-1]["service_hours"]) == (
        True, 120.0)
    assert (per_worker[str(workers[2])][-1]["full_time"], per_worker[str(workers[2])][-1]["service_hours"]) == (
        False, 162.0)

    # The same values again change nothing and emit nothing; a second change of one entry is revision 3.
    r = await world.projects.post(f"/v1/service-reports/{created['id']}/amend", headers=manager, json=body)
    assert r.json()["changed_worker_ids"] == []
    r = await world.projects.post(f"/v1/service-reports/{created['id']}/amend", headers=manager, json={
        "entries": [{"worker_id": str(workers[0]), "full_time": True, "service_hours": 100}]})
    assert r.json()["changed_worker_ids"] == [str(workers[0])]
    events = await read_topic(broker.bootstrap, TOPIC, keys=keys, want=6, timeout=10.0)
    last = per_worker_data(events)[str(workers[0])][-1]
    assert len(events) == 6 and last["revision"] == 3 and last["service_hours"] == 100


async def test_amend_adds_an_employed_worker_only(world, broker, db):
    station = await world.station()
    first, late, stranger = await world.worker(station), await world.worker(station), await world.worker(
        await world.station())
    manager = world.manager(station)
    created = (await world.projects.post("/v1/service-reports", headers=manager,
                                         json=report(station, [(first, True, 150)], month=RECENT))).json()
    # A draft is not amended.
    r = await world.projects.post(f"/v1/service-reports/{created['id']}/amend", headers=manager,
                                  json={"entries": [{"worker_id": str(late), "full_time": True, "service_hours": 1}]})
    assert_problem(r, 409)
    await world.projects.post(f"/v1/service-reports/{created['id']}/confirm", headers=manager)
    _, outbox_before = await counts(db, station)
    r = await world.projects.post(f"/v1/service-reports/{created['id']}/amend", headers=manager, json={
        "entries": [{"worker_id": str(first), "full_time": True, "service_hours": 1},
                    {"worker_id": str(stranger), "full_time": True, "service_hours": 100}]})
    assert_problem(r, 422, field="entries")
    assert (await counts(db, station))[1] == outbox_before  # the valid change was not kept either
    r = await world.projects.post(f"/v1/service-reports/{created['id']}/amend", headers=manager, json={
        "entries": [{"worker_id": str(late), "full_time": True, "service_hours": 100}]})
    assert r.status_code == 200 and r.json()["changed_worker_ids"] == [str(late)]
    events = await read_topic(broker.bootstrap, TOPIC, keys={str(late)}, want=1, timeout=10.0)
    assert [e["data"]["revision"] for e in events] == [1]


async def test_parallel_amendments_each_get_their_own_revision(world, broker):
    station = await world.station()
    worker = await world.worker(station)
    manager = world.manager(station)
    created = (await world.projects.post("/v1/service-reports", headers=manager,
                                         json=report(station, [(worker, True, 100)], month=RECENT))).json()
    await world.projects.post(f"/v1/service-reports/{created['id']}/confirm", headers=manager)
    responses = await asyncio.gather(*(
        world.projects.post(f"/v1/service-reports/{created['id']}/amend", headers=manager, json={
            "entries": [{"worker_id": str(worker), "full_time": True, "service_hours": 101 + i}]}) for i in range(5)))
    assert all(r.status_code == 200 for r in responses)
    final = (await world.projects.get(f"/v1/service-reports/{created['id']}", headers=manager)).json()
    assert final["entries"][0]["revision"] == 6
    events = await read_topic(broker.bootstrap, TOPIC, keys={str(worker)}, want=6, timeout=10.0)
    assert [e["data"]["revision"] for e in events] == [1, 2, 3, 4, 5, 6]  # in order, none twice
    assert events[-1]["data"]["service_hours"] == final["entries"][0]["service_hours"]


async def test_bad_reports_are_refused_and_nothing_is_written(world, db):
    station, elsewhere = await world.station(), await world.station()
    worker = await world.worker(station)
    left = await world.worker(station, start="2020-01-01", end="2024-04-30")
    stranger = await world.worker(elsewhere)
    admin = world.admin()
    before = await counts(db, station)
    r = await world.projects.post("/v1/service-reports", headers=admin,
                                  json=report(station, [(worker, True, 160)], month=next_month()))
    assert_problem(r, 422, field="month")
    for bad in (left, stranger, uuid.uuid4()):
        r = await world.projects.post("/v1/service-reports", headers=admin,
                                      json=report(station, [(worker, True, 160), (bad, True, 160)]))
        body = assert_problem(r, 422, field="entries")
        assert body["not_employed"] == [str(bad)]
    cases = [(report(station, [(worker, True, 160), (worker, False, 1)]), "entries.1.worker_id"),
             (report(station, [(worker, True, 800)]), "entries.0.service_hours"),
             (report(station, [(worker, True, -1)]), "entries.0.service_hours"),
             (report(station, []), "entries"), (report(station, [(worker, True, 1)], month="2024-13"), "month")]
    for body, field in cases:
        assert_problem(await world.projects.post("/v1/service-reports", headers=admin, json=body), 422, field=field)
    ghost = uuid.uuid4()
    r = await world.projects.post("/v1/service-reports", headers=admin, json=report(ghost, [(worker, True, 1)]))
    assert_problem(r, 422, field="station_id")
    # Another station's manager: the station does not exist for them.
    assert_problem(await world.projects.post("/v1/service-reports", headers=world.manager(elsewhere),
                                             json=report(station, [(worker, True, 1)])), 404)
    assert_problem(await world.projects.post("/v1/service-reports", headers=world.mint.headers("auditor"),
                                             json=report(station, [(worker, True, 1)])), 403)
    assert await counts(db, station) == before
    # The month the worker left is still theirs; this month is not in the future.
    ok = await world.projects.post("/v1/service-reports", headers=admin,
                                   json=report(station, [(worker, True, 160), (left, True, 100)], month="2024-04"))
    assert ok.status_code == 201, ok.text
    now = await world.projects.post("/v1/service-reports", headers=admin,
                                    json=report(station, [(worker, True, 10)], month=this_month()))
    assert now.status_code == 201, now.text


async def test_one_report_per_station_and_month(world, db):
    station = await world.station()
    worker = await world.worker(station)
    body = report(station, [(worker, True, 160)], month="2024-02")
    first = await world.projects.post("/v1/service-reports", headers=world.admin(), json=body)
    assert first.status_code == 201
    assert_problem(await world.projects.post("/v1/service-reports", headers=world.admin(), json=body), 409)
    # At the same time, too: exactly one wins.
    other = {**body, "month": "2024-03"}
    responses = await asyncio.gather(*(world.projects.post("/v1/service-reports", headers=world.admin(), json=other)
                                       for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    assert (await counts(db, station))[0] == 2


async def test_reports_are_scoped_to_the_stations_of_the_caller(world, mint, db):
    mine, other = await world.station(), await world.station()
    worker = await world.worker(mine)
    created = (await world.projects.post("/v1/service-reports", headers=world.manager(mine),
                                         json=report(mine, [(worker, True, 160)]))).json()
    url = f"/v1/service-reports/{created['id']}"
    outsider = world.manager(other)
    assert_problem(await world.projects.get(url, headers=outsider), 404)
    _, outbox_before = await counts(db, mine)
    assert_problem(await world.projects.post(f"{url}/confirm", headers=outsider), 404)
    assert_problem(await world.projects.post(f"{url}/confirm", headers=mint.headers("auditor")), 403)
    assert (await counts(db, mine))[1] == outbox_before  # failed confirmations emit nothing
    assert (await world.projects.get(url, headers=world.manager(mine))).json()["status"] == "draft"
    for role in ("auditor", "bureau_admin"):
        assert (await world.projects.get(url, headers=mint.headers(role))).status_code == 200
    for role in ("hr_system", "service"):  # not users of the projects service at all
        assert_problem(await world.projects.get(url, headers=mint.headers(role)), 403)
    listed = (await world.projects.get("/v1/service-reports", headers=outsider)).json()["items"]
    assert created["id"] not in [x["id"] for x in listed]
    listed = (await world.projects.get("/v1/service-reports", headers=world.manager(mine),
                                       params={"month": "2024-05", "status": "draft"})).json()["items"]
    assert [x["id"] for x in listed] == [created["id"]]
    worker_view = (await world.projects.get("/v1/service-reports",
                                            headers=mint.headers("social_worker", worker_id=worker))).json()
    assert worker_view["items"] == []


async def test_the_service_token_is_cached(world, service_token):
    station = await world.station()
    worker = await world.worker(station)
    for month in ("2023-01", "2023-02", "2023-03"):
        r = await world.projects.post("/v1/service-reports", headers=world.admin(),
                                      json=report(station, [(worker, True, 1)], month=month))
        assert r.status_code == 201
    assert service_token.minted == 1


@asynccontextmanager
async def projects_with_registry_at(base_url: str, *, projects_url, projects_settings, service_token,
                                    timeout: float):
    client = RegistryClient(base_url=base_url, token_source=service_token, timeout=timeout)
    app = create_app(projects_settings(projects_url, run_relay=False), registry=client)
    try:
        async with running_app(app) as c:
            yield c
    finally:
        await client.aclose()


async def test_registry_down_is_a_quick_503_and_nothing_is_written(world, db, projects_url, projects_settings,
                                                                   service_token):
    station = await world.station()
    worker = await world.worker(station)
    before = await counts(db, station)
    async with projects_with_registry_at(f"http://127.0.0.1:{free_port()}", projects_url=projects_url,
                                         projects_settings=projects_settings, service_token=service_token,
                                         timeout=3.0) as down:
        started = time.monotonic()
        r = await down.post("/v1/service-reports", headers=world.admin(), json=report(station, [(worker, True, 1)]))
        elapsed = time.monotonic() - started
        body = assert_problem(r, 503)
        assert body["upstream"] == "registry" and elapsed < 2.0
        call = await world.call()
        r = await down.post("/v1/projects", headers=world.admin(), json={
            "call_id": call["id"], "station_id": str(station), "lead_organization": "x", "title": "t",
            "category": "elderly", "goals": "g", "requested_budget_fen": 1000})
        assert_problem(r, 503)
    assert await counts(db, station) == before


@pytest.fixture
async def silent_server():
    """A TCP server that accepts connections and never answers (a hung registry)."""
    writers = []

    async def hang(reader, writer):
        writers.append(writer)
        await asyncio.sleep(30)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    for w in writers:
        w.close()
    server.close()


async def test_registry_that_hangs_times_out_as_503(world, db, projects_url, projects_settings, service_token,
                                                    silent_server):
    station = await world.station()
    worker = await world.worker(station)
    before = await counts(db, station)
    async with projects_with_registry_at(silent_server, projects_url=projects_url,
                                         projects_settings=projects_settings, service_token=service_token,
                                         timeout=0.5) as hung:
        started = time.monotonic()
        r = await hung.post("/v1/service-reports", headers=world.admin(), json=report(station, [(worker, True, 1)]))
        elapsed = time.monotonic() - started
    body = assert_problem(r, 503)
    assert "did not answer" in body["detail"] and 0.4 < elapsed < 2.0
    assert await counts(db, station) == before


async def test_a_managers_backdated_month_counts_only_once_the_bureau_confirms(world, broker, db):
    station = await world.station()
    worker = await world.worker(station)
    manager = world.manager(station)
    created = (await world.projects.post("/v1/service-reports", headers=manager,
                                         json=report(station, [(worker, True, 168)], month="2024-05"))).json()
    url = f"/v1/service-reports/{created['id']}"
    _, outbox_before = await counts(db, station)
    r = await world.projects.post(f"{url}/confirm", headers=manager)
    assert r.status_code == 200 and r.json()["status"] == "awaiting_bureau" and r.json()["confirmed_at"] is None
    assert (await counts(db, station))[1] == outbox_before  # nothing counts yet
    assert_problem(await world.projects.post(f"{url}/confirm", headers=manager), 409)
    listed = (await world.projects.get("/v1/service-reports", headers=world.admin(),
                                       params={"status": "awaiting_bureau", "station_id": str(station)})).json()
    assert [x["id"] for x in listed["items"]] == [created["id"]]
    r = await world.projects.post(f"{url}/confirm", headers=world.admin())
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    events = await read_topic(broker.bootstrap, TOPIC, keys={str(worker)}, want=1, timeout=10.0)
    assert [(e["data"]["month"], e["data"]["revision"]) for e in events] == [("2024-05", 1)]
    # the manager may not change that month afterwards; the bureau may
    amendment = {"entries": [{"worker_id": str(worker), "full_time": True, "service_hours": 100}]}
    assert_problem(await world.projects.post(f"{url}/amend", headers=manager, json=amendment), 403, field="month")
    r = await world.projects.post(f"{url}/amend", headers=world.admin(), json=amendment)
    assert r.status_code == 200 and r.json()["changed_worker_ids"] == [str(worker)]
