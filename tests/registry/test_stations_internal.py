"""Stations, employment and the internal API the other services call."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import assert_problem


async def count(url: str, sql: str, **params) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()
    finally:
        await engine.dispose()


async def test_create_and_read_stations(app_client, api, mint):
    centre = await api.station("鄂托克旗社工服务指导中心-测试", kind="centre")
    town = await api.station(parent_id=centre["id"], star_rating=10)
    assert town["parent_id"] == centre["id"] and town["star_rating"] == 10
    r = await app_client.get(f"/v1/stations/{town['id']}", headers=mint.headers("social_worker"))
    assert r.status_code == 200 and r.json()["name"] == town["name"]
    r = await app_client.get("/v1/stations", headers=mint.headers("auditor"), params={"limit": 500})
    assert {centre["id"], town["id"]} <= {s["id"] for s in r.json()["items"]}


async def test_station_rules(app_client, api, mint):
    r = await app_client.post("/v1/stations", json={"name": "x", "kind": "township", "division_code": "150624"},
                              headers=mint.headers("station_manager"))
    assert_problem(r, 403)
    r = await app_client.post("/v1/stations", json={"name": "x", "kind": "village", "division_code": "150624"},
                              headers=api.admin)
    assert_problem(r, 422, field="kind")
    town = await api.station()
    r = await app_client.post("/v1/stations", json={"name": "y", "kind": "township", "division_code": "150624",
                                                    "parent_id": town["id"]}, headers=api.admin)
    assert_problem(r, 422, field="parent_id")
    r = await app_client.post("/v1/stations", json={"name": town["name"], "kind": "township",
                                                    "division_code": "150624"}, headers=api.admin)
    assert_problem(r, 409, field="name")
    r = await app_client.post("/v1/stations", json={"name": "z", "kind": "township", "division_code": "150624",
                                                    "star_rating": 11}, headers=api.admin)
    assert_problem(r, 422, field="star_rating")


async def test_internal_station(app_client, api, mint):
    town = await api.station(star_rating=5)
    r = await app_client.get(f"/v1/internal/stations/{town['id']}", headers=mint.headers("service"))
    assert r.json() == {k: town[k] for k in ("id", "name", "kind", "parent_id", "division_code", "star_rating")}
    r = await app_client.get(f"/v1/internal/stations/{uuid.uuid4()}", headers=mint.headers("service"))
    assert_problem(r, 404)
    r = await app_client.get(f"/v1/internal/stations/{town['id']}", headers=mint.headers("station_manager",
                                                                                           station_ids=[town["id"]]))
    assert_problem(r, 403)


async def test_employment_check_and_lookup(app_client, api, mint):
    town, other = await api.station(), await api.station()
    w1 = await api.worker(station_id=town["id"], start_date="2023-01-15")
    w2 = await api.worker(station_id=other["id"], start_date="2020-01-01")
    r = await app_client.post(f"/v1/workers/{w1['id']}/employments", headers=api.admin, json={
        "station_id": town["id"], "start_date": "2020-01-01", "end_date": "2020-06-30", "full_time": False,
        "role": "兼职"})
    assert r.status_code == 201, r.text
    svc = mint.headers("service")

    async def check(month: str) -> dict:
        r = await app_client.post("/v1/internal/employment-check", headers=svc, json={
            "station_id": town["id"], "month": month, "worker_ids": [w1["id"], w2["id"]]})
        assert r.status_code == 200, r.text
        return r.json()

    assert (await check("2023-01"))["employed"] == [w1["id"]]
    assert (await check("2023-01"))["not_employed"] == [w2["id"]]
    assert (await check("2022-12"))["employed"] == []
    assert (await check("2020-06"))["employed"] == [w1["id"]]
    assert (await check("2020-07"))["employed"] == []
    r = await app_client.post("/v1/internal/employment-check", headers=svc, json={
        "station_id": str(uuid.uuid4()), "month": "2023-01", "worker_ids": [w1["id"]]})
    assert_problem(r, 404)
    r = await app_client.post("/v1/internal/employment-check", headers=svc, json={
        "station_id": town["id"], "month": "2023-13", "worker_ids": []})
    assert_problem(r, 422, field="month")
    r = await app_client.post("/v1/internal/employment-check", headers=mint.headers("auditor"), json={
        "station_id": town["id"], "month": "2023-01", "worker_ids": []})
    assert_problem(r, 403)

    r = await app_client.post("/v1/internal/workers/lookup", headers=svc,
                              json={"worker_ids": [w2["id"], w1["id"], str(uuid.uuid4())]})
    items = r.json()["items"]
    assert [i["id"] for i in items] == [w2["id"], w1["id"]]
    assert items[1]["station_ids"] == [town["id"]] and items[1]["bank_account"] is None
    assert "*" * 10 in items[0]["id_number_masked"] and items[0]["id_number_masked"] == w2["id_number"]  # same mask
    assert items[0]["phone_masked"][3:7] == "****"


async def test_overlapping_full_time_employment_refused(app_client, api, mint):
    town, other = await api.station(), await api.station()
    w = await api.worker(station_id=town["id"], start_date="2022-01-01")
    url = app_client.database_url
    before = await count(url, "SELECT count(*) FROM employments WHERE worker_id = :w", w=uuid.UUID(w["id"]))
    r = await app_client.post(f"/v1/workers/{w['id']}/employments", headers=api.admin, json={
        "station_id": other["id"], "start_date": "2023-01-01", "full_time": True, "role": "社工"})
    assert_problem(r, 409, field="start_date")
    # part-time alongside is fine; a full-time one ending before the first starts is fine
    r = await app_client.post(f"/v1/workers/{w['id']}/employments", headers=api.admin, json={
        "station_id": other["id"], "start_date": "2023-01-01", "full_time": False, "role": "督导"})
    assert r.status_code == 201
    r = await app_client.post(f"/v1/workers/{w['id']}/employments", headers=api.admin, json={
        "station_id": other["id"], "start_date": "2020-01-01", "end_date": "2021-12-31", "full_time": True,
        "role": "社工"})
    assert r.status_code == 201
    assert await count(url, "SELECT count(*) FROM employments WHERE worker_id = :w", w=uuid.UUID(w["id"])) \
        == before + 2
    r = await app_client.post(f"/v1/workers/{w['id']}/employments", headers=api.admin, json={
        "station_id": str(uuid.uuid4()), "start_date": "2019-01-01", "full_time": False, "role": "x"})
    assert_problem(r, 422, field="station_id")
    # a station manager may not hire at another station, nor touch another station's worker
    manager = mint.headers("station_manager", station_ids=[other["id"]])
    r = await app_client.post(f"/v1/workers/{w['id']}/employments", headers=manager, json={
        "station_id": town["id"], "start_date": "2019-01-01", "full_time": False, "role": "x"})
    assert_problem(r, 403)
    stranger = await api.worker(station_id=town["id"])
    r = await app_client.post(f"/v1/workers/{stranger['id']}/employments", headers=manager, json={
        "station_id": other["id"], "start_date": "2019-01-01", "full_time": False, "role": "x"})
    assert_problem(r, 404)
    r = await app_client.get(f"/v1/workers/{w['id']}/employments", headers=manager)
    assert len(r.json()["items"]) == 3
