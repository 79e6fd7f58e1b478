"""A few real objects, so that path parameters can name something that exists (random UUIDs only reach 404s).

The fuzzer draws these identifiers into the path parameters of the same name for part of its cases
(Schemathesis dictionaries); the rest keep schema-derived values.
"""

from __future__ import annotations

import random
from datetime import date

from devstack.api import Api
from shared.clock import bureau_today
from shared.validators import id_number_check_char

POLICY = "otog-talent-subsidy"


def _id_number(rng: random.Random) -> str:
    first17 = f"150624{date(rng.randrange(1975, 2000), rng.randrange(1, 13), rng.randrange(1, 29)):%Y%m%d}" \
              f"{rng.randrange(100, 999)}"
    return first17 + id_number_check_char(first17)


def seed(api: Api) -> dict[str, list[str]]:
    """Create one of each main object through the public API; returns path parameter name -> identifiers."""
    rng = random.Random(8)
    centre = api.post("/registry/v1/stations", {"name": "模糊测试中心", "kind": "centre", "division_code": "150624"})
    station = api.post("/registry/v1/stations", {"name": "模糊测试社工站", "kind": "township",
                                                 "parent_id": centre["id"], "division_code": "150624901"})["id"]
    worker = api.post("/registry/v1/workers", {
        "name": "测试员", "id_number": _id_number(rng), "full_time": True,
        "employment": {"station_id": station, "start_date": "2022-01-01", "full_time": True,
                       "role": "社工站社工"}})["id"]
    certificate = api.post(f"/registry/v1/workers/{worker}/certificates", {
        "level": "assistant", "certificate_no": "FUZZ-0001", "obtained_on": "2023-01-10"})["id"]
    year = bureau_today().year
    call = api.post("/projects/v1/calls", {
        "year": year, "title": "模糊测试基金", "total_budget_fen": 10_000_000, "categories": ["elderly"],
        "window_opens": f"{year}-01-01", "window_closes": f"{year}-12-31", "division_code": "150624"})["id"]
    projects = []
    for title in ("探访一", "探访二"):  # one stays a draft, one goes as far as it can
        projects.append(api.post("/projects/v1/projects", {
            "call_id": call, "station_id": station, "lead_organization": "模糊测试社工站", "title": title,
            "category": "elderly", "goals": "每月开展服务", "requested_budget_fen": 200_000, "partners": []})["id"])
    api.post(f"/projects/v1/projects/{projects[1]}/submit")
    api.post(f"/projects/v1/projects/{projects[1]}/approve", {"approved_budget_fen": 150_000})
    api.post(f"/projects/v1/projects/{projects[1]}/start")
    report = api.post("/projects/v1/service-reports", {"station_id": station, "month": "2024-01", "entries": [
        {"worker_id": worker, "full_time": True, "service_hours": 160}]})["id"]
    disbursement = api.post("/subsidy/v1/disbursements", {"policy": POLICY, "month": "2024-01"},
                            expect=(200, 201))["id"]
    return {"station_id": [station, centre["id"]], "worker_id": [worker], "certificate_id": [certificate],
            "call_id": [call], "project_id": projects, "report_id": [report], "disbursement_id": [disbursement],
            "code": [POLICY]}
