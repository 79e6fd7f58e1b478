"""One corrected history through the gateway, month by month: paid, then a late upgrade (top-ups), a failed
transfer (due again), a month amended to part-time (recoveries set off against the worker's payments, the rest
a receivable), a repayment, and the worker's statement explaining every month."""

from __future__ import annotations

import random
import secrets

import pytest

from devstack.api import Api, wait_until
from devstack.demo import POLICY, months
from devstack.demo_data import CENTRE
from tests.e2e.test_0_suite import new_id_number

STATION = "E2E更正社工站"


def verdict(api: Api, worker: str, month: str) -> dict:
    body = api.get(f"/subsidy/v1/workers/{worker}/eligibility", params={"policy": POLICY, "through": month},
                   expect=(200, 404))
    return {m["month"]: m for m in body.get("months", [])}.get(month, {})


def mine(api: Api, batch: dict, worker: str) -> list[tuple]:
    return sorted((x["month"], x["kind"], x["amount_fen"], x["status"])
                  for x in api.all(f"/subsidy/v1/disbursements/{batch['id']}/lines") if x["worker_id"] == worker)


def transfer(api: Api, batch: dict, worker: str) -> dict:
    return next(w for w in api.all(f"/subsidy/v1/disbursements/{batch['id']}/workers") if w["worker_id"] == worker)


@pytest.fixture(scope="module")
def history(suite):
    admin = suite.admin()
    centre = next(s for s in admin.all("/registry/v1/stations") if s["name"] == CENTRE)
    station = admin.post("/registry/v1/stations", {"name": STATION, "kind": "township", "parent_id": centre["id"],
                                                   "division_code": "150624998"})["id"]
    hr_client = admin.post("/auth/clients", {"client_id": "hr-e2e-corrections", "kind": "hr_system"})
    hr = Api.client(suite.gateway, hr_client["client_id"], hr_client["client_secret"])
    imported = hr.post("/registry/v1/workers/import", [{
        "station": STATION, "full_time": "是", "role": "社工站社工", "level": "助理社会工作师", "name": "赵更正",
        "id_number": new_id_number(random.Random(12)), "start_date": "2023-01-01", "certificate_no": "E2E-C-0001",
        "obtained_on": "2023-01-10"}])
    assert imported["totals"]["created"] == 1, imported
    worker = imported["results"][0]["worker_id"]
    # this HR client is not a trusted certificate source: its certificate is a claim until the bureau verifies it
    for claim in [c for c in admin.all("/registry/v1/certificate-claims") if c["worker_id"] == worker]:
        admin.post(f"/registry/v1/workers/{worker}/certificates/{claim['id']}/verify")
    admin.post(f"/registry/v1/workers/{worker}/registration", {"registered_on": "2023-01-01",
                                                                "division_code": "150624"})
    passwords = {name: secrets.token_urlsafe(12) for name in ("e2e-corr-manager", "e2e-corr-worker")}
    admin.post("/auth/users", {"username": "e2e-corr-manager", "password": passwords["e2e-corr-manager"],
                               "roles": ["station_manager"], "station_ids": [station]})
    admin.post("/auth/users", {"username": "e2e-corr-worker", "password": passwords["e2e-corr-worker"],
                               "roles": ["social_worker"], "worker_id": worker})
    manager = suite.login("e2e-corr-manager", passwords["e2e-corr-manager"])
    reports = {}
    for month in months("2023-01", "2024-05"):
        report = manager.post("/projects/v1/service-reports", {"station_id": station, "month": month, "entries": [
            {"worker_id": worker, "full_time": True, "service_hours": 160}]})
        if manager.post(f"/projects/v1/service-reports/{report['id']}/confirm")["status"] == "awaiting_bureau":
            admin.post(f"/projects/v1/service-reports/{report['id']}/confirm")  # back-dated: the bureau's word
        reports[month] = report["id"]
    wait_until(lambda: verdict(admin, worker, "2024-05").get("rule") == "payable", timeout=180,
               what="the worker's months in the subsidy service")
    application = manager.post("/subsidy/v1/applications", {"worker_id": worker, "policy": POLICY})
    admin.post(f"/subsidy/v1/applications/{application['id']}/approve")
    return {"admin": admin, "manager": manager, "worker_api": suite.login("e2e-corr-worker",
                                                                         passwords["e2e-corr-worker"]),
            "worker": worker, "reports": reports}


def test_a_corrected_history_month_by_month(suite, history):
    admin, manager, w = history["admin"], history["manager"], history["worker"]

    def batch(month: str) -> dict:
        return admin.post("/subsidy/v1/disbursements", {"policy": POLICY, "month": month}, expect=(200, 201))

    def mark(b: dict, status: str) -> None:
        line = next(x for x in admin.all(f"/subsidy/v1/disbursements/{b['id']}/lines")
                    if x["worker_id"] == w and x["kind"] != "recovery")
        admin.post(f"/subsidy/v1/disbursements/{b['id']}/lines/{line['id']}/mark",
                   {"status": status, "reason": "account closed" if status == "failed" else None})

    # March 2024: the run reached 12 months in December 2023; four months at the assistant rate, paid.
    march = batch("2024-03")
    assert mine(admin, march, w) == [(m, "subsidy", 30000, "pending") for m in months("2023-12", "2024-03")]
    mark(march, "paid")

    # A certificate obtained in November 2023 is recorded late: December 2023 on is due at 50,000.
    admin.post(f"/registry/v1/workers/{w}/certificates", {"level": "intermediate", "certificate_no": "E2E-C-0002",
                                                           "obtained_on": "2023-11-20"})
    wait_until(lambda: verdict(admin, w, "2023-12").get("amount_fen") == 50000, timeout=120, what="the upgrade")
    april = batch("2024-04")
    assert mine(admin, april, w) == [(m, "top_up", 20000, "pending") for m in months("2023-12", "2024-03")] + [
        ("2024-04", "subsidy", 50000, "pending")]
    assert transfer(admin, april, w)["net_to_pay_fen"] == 4 * 20000 + 50000
    mark(april, "failed")  # the bank refused the whole transfer: nothing of it counts
    assert {s for *_, s in mine(admin, april, w)} == {"failed"}

    # February 2024 is amended to part-time (that far back, by the bureau): it is not due, and the run restarts
    # in March (1 of 12).
    admin.post(f"/projects/v1/service-reports/{history['reports']['2024-02']}/amend",
                 {"entries": [{"worker_id": w, "full_time": False, "service_hours": 40}]})
    wait_until(lambda: verdict(admin, w, "2024-02").get("rule") == "not_full_time", timeout=120,
               what="the amendment")
    may = batch("2024-05")
    assert mine(admin, may, w) == [
        ("2023-12", "top_up", 20000, "paid"), ("2024-01", "top_up", 20000, "paid"),  # due again: a new attempt
        ("2024-02", "recovery", 30000, "recorded"), ("2024-03", "recovery", 30000, "recorded")]
    settled = transfer(admin, may, w)
    # the 60,000 recovered is set off against the 40,000 of top-ups: nothing to transfer, 20,000 owed
    assert (settled["gross_fen"], settled["recovered_fen"], settled["set_off_fen"], settled["net_to_pay_fen"],
            settled["receivable_after_fen"], settled["status"]) == (40000, 60000, 40000, 0, 20000, "paid")
    assert admin.get(f"/subsidy/v1/receivables/{w}")["balance_fen"] == 20000
    admin.post(f"/subsidy/v1/receivables/{w}/repayments", {"amount_fen": 20000, "note": "repaid at the bureau"})
    assert admin.get(f"/subsidy/v1/receivables/{w}")["balance_fen"] == 0

    # The worker reads the statement on the mobile client: every month at what is due now, and why.
    statement = history["worker_api"].get(f"/subsidy/v1/workers/{w}/statement",
                                          params={"policy": POLICY, "through": "2024-05", "from": "2023-12"})
    rows = {m["month"]: m for m in statement["months"]}
    assert [(m, rows[m]["due_fen"], rows[m]["paid_fen"], rows[m]["top_ups_fen"], rows[m]["recovered_fen"],
             rows[m]["failed_fen"], rows[m]["net_fen"], rows[m]["rule"]) for m in months("2023-12", "2024-05")] == [
        ("2023-12", 50000, 50000, 20000, 0, 20000, 50000, "payable"),
        ("2024-01", 50000, 50000, 20000, 0, 20000, 50000, "payable"),
        ("2024-02", 0, 30000, 0, 30000, 20000, 0, "not_full_time"),
        ("2024-03", 0, 30000, 0, 30000, 20000, 0, "continuity"),
        ("2024-04", 0, 0, 0, 0, 50000, 0, "continuity"),
        ("2024-05", 0, 0, 0, 0, 0, 0, "continuity")]
    assert "not full-time" in rows["2024-02"]["reason"]
    assert "net so far 30000 fen" in rows["2024-02"]["last_entry"]["reason"]
    assert statement["net_fen"] == statement["due_fen"] == 100000
    # the station manager reads it too; another worker does not even learn it exists
    assert manager.get(f"/subsidy/v1/workers/{w}/statement", params={"policy": POLICY, "through": "2024-05"})
    suite.login("worker1").get(f"/subsidy/v1/workers/{w}/statement", params={"policy": POLICY, "through": "2024-05"},
                               expect=404)
