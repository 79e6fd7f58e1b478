"""Fund calls: bureau admins open them, everyone signed in reads them, bad input leaves nothing behind."""

from __future__ import annotations

from sqlalchemy import text

from tests.support import assert_problem


async def count_calls(db) -> int:
    async with db.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM calls"))).scalar()


async def test_admin_opens_a_call_and_everyone_reads_it(world, mint):
    call = await world.call(total_budget_fen=5_000_000, categories=["elderly", "women", "self_governance"])
    assert call["remaining_fen"] == 5_000_000 and call["allocated_fen"] == 0
    assert call["categories"] == ["elderly", "women", "self_governance"]
    for role in ("auditor", "station_manager", "social_worker"):
        r = await world.projects.get(f"/v1/calls/{call['id']}", headers=mint.headers(role))
        assert r.status_code == 200 and r.json()["id"] == call["id"]
    listed = await world.projects.get("/v1/calls", headers=mint.headers("auditor"), params={"limit": 500})
    assert call["id"] in [c["id"] for c in listed.json()["items"]]


async def test_only_bureau_admin_opens_calls(world, mint, db):
    before = await count_calls(db)
    r = await world.projects.post("/v1/calls", headers=mint.headers("station_manager"), json={
        "year": 2024, "title": "x", "total_budget_fen": 100, "categories": ["elderly"], "window_opens": "2024-01-01",
        "window_closes": "2024-02-01", "division_code": "150624"})
    assert_problem(r, 403)
    assert await count_calls(db) == before


async def test_bad_calls_are_refused_naming_the_field(world, db):
    good = {"year": 2024, "title": "x", "total_budget_fen": 100, "categories": ["elderly"],
            "window_opens": "2024-03-01", "window_closes": "2024-04-01", "division_code": "150624"}
    before = await count_calls(db)
    cases = [({"window_closes": "2024-02-01"}, "window_closes"), ({"categories": ["astrology"]}, "categories.0"),
             ({"categories": []}, "categories"), ({"total_budget_fen": 0}, "total_budget_fen"),
             ({"division_code": "15"}, "division_code"), ({"extra": 1}, "extra")]
    for change, field in cases:
        r = await world.projects.post("/v1/calls", headers=world.admin(), json={**good, **change})
        assert_problem(r, 422, field=field)
    assert await count_calls(db) == before
