"""End to end, only through the gateway with real tokens, over the real broker between real processes (named
`test_0_` so it runs first on the shared demo stack: it checks the demo's exact figures before other tests add to them).

An HR system imports people with certificates; a station manager confirms service months; a worker on a
mobile client sees the eligibility explained and applies; the bureau approves and runs disbursements month
after month. The ledger must match the subsidy rules (README.md, "Design") to the fen: an upgrade, a gap, a late
month and the 36-month cap. Events cross the broker asynchronously, so the tests poll the API with a bound.
"""

from __future__ import annotations

import random
import secrets
from datetime import date
from pathlib import Path

import pytest

from devstack.api import Api, ApiError, wait_until
from devstack.demo import POLICY, months
from devstack.demo_data import CENTRE
from shared.validators import id_number_check_char
from tests.support import ROOT

STATION = "E2E测试社工站"


def new_id_number(rng: random.Random) -> str:
    birth = date(rng.randrange(1975, 2000), rng.randrange(1, 13), rng.randrange(1, 29))
    first17 = f"150624{birth:%Y%m%d}{rng.randrange(100, 999)}"
    return first17 + id_number_check_char(first17)


def rule_of(api: Api, worker: str, month: str) -> str | None:
    body = api.get(f"/subsidy/v1/workers/{worker}/eligibility", params={"policy": POLICY, "through": month},
                   expect=(200, 404))
    verdicts = {m["month"]: m["rule"] for m in body.get("months", [])}
    return verdicts.get(month)


def payments(api: Api, worker: str) -> dict[str, tuple[int, str]]:
    return {line["month"]: (line["amount_fen"], line["disbursement_id"])
            for line in api.all(f"/subsidy/v1/workers/{worker}/payments") if line["kind"] == "subsidy"}


def test_demo_is_shaped_like_the_report(suite):
    admin = suite.admin()
    holders = admin.get("/registry/v1/stats")["certificate_holders"]
    assert {k: holders[k] for k in ("total", "by_level")} == {
        "total": 126, "by_level": {"assistant": 89, "intermediate": 37, "senior": 0}}
    assert holders["by_station"] and all(s["total"] == sum(s["by_level"].values()) for s in holders["by_station"])
    stations = {s["name"]: s for s in admin.all("/registry/v1/stations")}
    assert CENTRE in stations and stations["乌兰镇社工站"]["star_rating"] == 10
    assert sum(s["kind"] == "township" for s in stations.values()) >= 6
    summary = admin.get("/subsidy/v1/reports/summary", params={"policy": POLICY, "from": "2023-01", "to": "2026-12"})
    assert summary["people"] >= 14 and summary["total_fen"] > 0
    states = {p["status"] for p in admin.all("/projects/v1/projects")}
    assert {"draft", "submitted", "approved", "in_progress", "completed", "rejected"} <= states
    assert "subsidy paid to 14 people" in suite.banner
    # The demo's figures are the same on every first start, and the README shows them to the fen.
    ready = next(line for line in suite.banner.splitlines() if line.startswith("Ready."))
    assert ready in (Path(ROOT) / "README.md").read_text(encoding="utf-8"), f"README.md must show: {ready}"
    assert set(suite.logins) >= {"manager1", "worker1", "auditor1"}


@pytest.fixture(scope="module")
def scenario(suite):
    """Two workers at a station of their own: W1 (upgrade, cap) and W2 (gap, late month)."""
    admin = suite.admin()
    centre = next(s for s in admin.all("/registry/v1/stations") if s["name"] == CENTRE)
    station = admin.post("/registry/v1/stations", {"name": STATION, "kind": "township", "parent_id": centre["id"],
                                                   "division_code": "150624999"})["id"]
    hr_client = admin.post("/auth/clients", {"client_id": "hr-e2e", "kind": "hr_system"})
    hr = Api.client(suite.gateway, hr_client["client_id"], hr_client["client_secret"])
    rng = random.Random(7)
    common = {"station": STATION, "full_time": "是", "role": "社工站社工", "level": "助理社会工作师"}
    rows = [
        {**common, "name": "张晓", "id_number": new_id_number(rng), "start_date": "2022-01-01",
         "certificate_no": "E2E-0001", "obtained_on": "2023-01-10"},
        {**common, "name": "李岩", "id_number": new_id_number(rng), "start_date": "2023-01-01",
         "certificate_no": "E2E-0002", "obtained_on": "2023-01-05"},
    ]
    imported = hr.post("/registry/v1/workers/import", rows)
    assert imported["totals"]["created"] == 2, imported
    w1, w2 = (r["worker_id"] for r in imported["results"])
    # hr-e2e is not a trusted certificate source: its certificates are claims until the bureau verifies them
    claims = [c for c in admin.all("/registry/v1/certificate-claims") if c["worker_id"] in (w1, w2)]
    assert len(claims) == 2
    for claim in claims:
        admin.post(f"/registry/v1/workers/{claim['worker_id']}/certificates/{claim['id']}/verify")
    admin.post(f"/registry/v1/workers/{w1}/registration", {"registered_on": "2022-06-01", "division_code": "150624"})
    admin.post(f"/registry/v1/workers/{w2}/registration", {"registered_on": "2023-01-01", "division_code": "150624"})
    admin.post(f"/registry/v1/workers/{w1}/certificates", {  # the upgrade
        "level": "intermediate", "certificate_no": "E2E-0003", "obtained_on": "2024-11-20"})

    passwords = {name: secrets.token_urlsafe(12) for name in ("e2e-manager", "e2e-worker")}
    admin.post("/auth/users", {"username": "e2e-manager", "password": passwords["e2e-manager"],
                               "roles": ["station_manager"], "station_ids": [station]})
    admin.post("/auth/users", {"username": "e2e-worker", "password": passwords["e2e-worker"],
                               "roles": ["social_worker"], "worker_id": w1})
    manager = suite.login("e2e-manager", passwords["e2e-manager"])
    reports = {}
    for month in months("2022-01", "2026-11"):
        entries = [{"worker_id": w1, "full_time": True, "service_hours": 160}]
        if month >= "2023-01" and month != "2024-01":  # W2's January 2024 is reported late
            entries.append({"worker_id": w2, "full_time": month != "2024-03", "service_hours": 160})  # the gap
        report = manager.post("/projects/v1/service-reports", {"station_id": station, "month": month,
                                                               "entries": entries})
        if manager.post(f"/projects/v1/service-reports/{report['id']}/confirm")["status"] == "awaiting_bureau":
            admin.post(f"/projects/v1/service-reports/{report['id']}/confirm")  # back-dated: the bureau's word
        reports[month] = report["id"]
    worker = suite.login("e2e-worker", passwords["e2e-worker"])
    return {"admin": admin, "manager": manager, "worker": worker, "w1": w1, "w2": w2, "station": station,
            "reports": reports}


def test_events_reach_the_subsidy_service_and_eligibility_is_explained(scenario):
    worker, w1 = scenario["worker"], scenario["w1"]
    # The last report's event has crossed the broker once November 2026 has a verdict other than "no service".
    wait_until(lambda: rule_of(worker, w1, "2026-01") == "payable", timeout=180, what="W1's months in subsidy")
    body = worker.get(f"/subsidy/v1/workers/{w1}/eligibility", params={"policy": POLICY, "through": "2026-11"})
    verdicts = {m["month"]: m for m in body["months"]}
    assert body["eligible"] is True
    assert verdicts["2023-01"]["rule"] == "no_certificate"  # obtained 2023-01-10: covers from February
    assert (verdicts["2023-02"]["rule"], verdicts["2023-02"]["amount_fen"]) == ("payable", 30000)
    assert (verdicts["2024-11"]["level"], verdicts["2024-12"]["level"]) == ("assistant", "intermediate")
    assert verdicts["2024-12"]["amount_fen"] == 50000
    assert verdicts["2026-02"]["rule"] == "cap_reached"  # 36 months: 2023-02 .. 2026-01
    assert len(body["payable_months"]) == 36 and body["payable_total_fen"] == 22 * 30000 + 14 * 50000


def test_mobile_application_bureau_approval_and_the_ledger_to_the_fen(scenario):
    admin, manager, worker = scenario["admin"], scenario["manager"], scenario["worker"]
    w1, w2 = scenario["w1"], scenario["w2"]
    wait_until(lambda: rule_of(manager, w2, "2026-11") == "payable", timeout=180, what="W2's months in subsidy")
    mine = worker.post("/subsidy/v1/applications", {"worker_id": w1, "policy": POLICY})  # from the mobile client
    theirs = manager.post("/subsidy/v1/applications", {"worker_id": w2, "policy": POLICY})
    with pytest.raises(ApiError) as refused:  # a worker applies only for themselves
        worker.post("/subsidy/v1/applications", {"worker_id": w2, "policy": POLICY})
    assert refused.value.response.status_code in (403, 404, 409)
    for application in (mine, theirs):
        assert admin.post(f"/subsidy/v1/applications/{application['id']}/approve")["status"] == "approved"

    def batch(month: str) -> str:
        return admin.post("/subsidy/v1/disbursements", {"policy": POLICY, "month": month}, expect=(200, 201))["id"]

    b1, b2 = batch("2023-12"), batch("2024-02")
    # W2's January 2024 arrives late: the bureau amends the month (that far back the station cannot), the event
    # crosses the broker.
    admin.post(f"/projects/v1/service-reports/{scenario['reports']['2024-01']}/amend",
                 {"entries": [{"worker_id": w2, "full_time": True, "service_hours": 160}]})
    wait_until(lambda: rule_of(admin, w2, "2024-01") == "payable", timeout=120, what="the late month in subsidy")
    b3, b4 = batch("2024-06"), batch("2026-11")
    assert batch("2026-11") == b4  # created once, returned after

    def expected(spans: list[tuple[str, str, int, str]]) -> dict[str, tuple[int, str]]:
        return {m: (fen, b) for first, last, fen, b in spans for m in months(first, last)}

    assert payments(admin, w1) == expected([
        ("2023-02", "2023-12", 30000, b1), ("2024-01", "2024-02", 30000, b2), ("2024-03", "2024-06", 30000, b3),
        ("2024-07", "2024-11", 30000, b4), ("2024-12", "2026-01", 50000, b4)])  # upgrade, then the cap
    assert payments(admin, w2) == expected([
        ("2023-12", "2023-12", 30000, b1),  # the run reaches 12 months in December 2023
        ("2024-01", "2024-02", 30000, b3),  # the late month and the month it unblocked, as arrears
        ("2025-03", "2026-11", 30000, b4)])  # the part-time March 2024 broke the run; a new one reached 12
    assert sum(fen for fen, _ in payments(admin, w1).values()) == 1_360_000
    assert sum(fen for fen, _ in payments(admin, w2).values()) == 720_000
    # The worker sees their own payments, not anybody else's.
    assert len(worker.all(f"/subsidy/v1/workers/{w1}/payments")) == 36
    assert worker.get(f"/subsidy/v1/workers/{w2}/payments", expect=404)


def test_a_station_manager_cannot_see_or_change_another_station_through_any_path(suite, scenario):
    admin, e2e_manager, w1 = scenario["admin"], scenario["manager"], scenario["w1"]
    demo_manager = suite.login("manager1")  # 乌兰镇社工站
    wulan = next(s for s in admin.all("/registry/v1/stations") if s["name"] == "乌兰镇社工站")["id"]
    demo_worker = admin.get("/registry/v1/workers", params={"station_id": wulan, "limit": 1})["items"][0]["id"]
    demo_project = next(p for p in admin.all("/projects/v1/projects") if p["station_id"] == wulan)["id"]

    listed = {w["id"] for w in e2e_manager.all("/registry/v1/workers")}
    assert listed == {scenario["w1"], scenario["w2"]}
    for path in (f"/registry/v1/workers/{demo_worker}", f"/registry/v1/workers/{demo_worker}/certificates",
                 f"/subsidy/v1/workers/{demo_worker}/payments", f"/projects/v1/projects/{demo_project}"):
        e2e_manager.get(path, expect=404)
    e2e_manager.get(f"/subsidy/v1/workers/{demo_worker}/eligibility",
                    params={"policy": POLICY, "through": "2026-10"}, expect=404)
    e2e_manager.post("/projects/v1/service-reports", {"station_id": wulan, "month": "2026-11", "entries": [
        {"worker_id": demo_worker, "full_time": True, "service_hours": 1}]}, expect=(403, 404))
    e2e_manager.post(f"/registry/v1/workers/{demo_worker}/employments", {
        "station_id": scenario["station"], "start_date": date(2026, 11, 1).isoformat(), "full_time": False,
        "role": "兼职"}, expect=404)
    e2e_manager.post(f"/projects/v1/projects/{demo_project}/start", expect=(403, 404))
    assert all(a["worker_id"] in (scenario["w1"], scenario["w2"]) for a in e2e_manager.all("/subsidy/v1/applications"))
    # ... and the other way round.
    for path in (f"/registry/v1/workers/{w1}", f"/subsidy/v1/workers/{w1}/payments"):
        demo_manager.get(path, expect=404)
    assert w1 not in {w["id"] for w in demo_manager.all("/registry/v1/workers")}
