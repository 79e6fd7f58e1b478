"""Role x endpoint matrix across the three services, through the gateway with real tokens.

Each role sees and does what README.md ("Design", "Who uses it") says: bureau_admin everything; auditor reads; a station
manager their station's workers; a social worker themselves; an HR system imports and reads; the services
read. A caller may not see an object: 404. A role that may never take an action: 403.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from devstack.api import Api
from devstack.demo import POLICY

ROLES = ("admin", "auditor", "manager", "worker", "hr", "service")


@pytest.fixture(scope="module")
def callers(suite, demo_stack):
    admin = suite.admin()
    hr = admin.post("/auth/clients", {"client_id": "hr-matrix", "kind": "hr_system"})
    secrets = json.loads((demo_stack.state / "secrets.json").read_text())  # this stack's, not any under basetemp
    return {
        "admin": admin, "auditor": suite.login("auditor1"), "manager": suite.login("manager1"),
        "worker": suite.login("worker1"), "hr": Api.client(suite.gateway, hr["client_id"], hr["client_secret"]),
        "service": Api.client(suite.gateway, secrets["PROJECTS_CLIENT_ID"], secrets["PROJECTS_CLIENT_SECRET"]),
    }


@pytest.fixture(scope="module")
def ids(callers):
    admin = callers["admin"]
    stations = {s["name"]: s["id"] for s in admin.all("/registry/v1/stations")}
    own = admin.get("/registry/v1/workers", params={"station_id": stations["乌兰镇社工站"], "limit": 1})["items"][0]
    other = admin.get("/registry/v1/workers", params={"station_id": stations["蒙西镇社工站"], "limit": 1})["items"][0]
    me = callers["worker"].get("/registry/v1/workers")["items"][0]
    return {"own": own["id"], "other": other["id"], "me": me["id"], "wulan": stations["乌兰镇社工站"]}


def status(api: Api, method: str, path: str, **kwargs) -> int:
    return api.http.request(method, path, **kwargs).status_code


READS = {  # path template -> expected status per role
    "/registry/v1/workers/{own}": dict(admin=200, auditor=200, manager=200, worker=404, hr=200, service=200),
    "/registry/v1/workers/{other}": dict(admin=200, auditor=200, manager=404, worker=404, hr=200, service=200),
    "/registry/v1/workers/{me}": dict(admin=200, auditor=200, worker=200, hr=200, service=200),
    "/subsidy/v1/workers/{other}/payments": dict(admin=200, auditor=200, manager=404, worker=404),
    "/subsidy/v1/workers/{me}/eligibility?policy=" + POLICY + "&through=2026-10":
        dict(admin=200, auditor=200, worker=200),
    "/subsidy/v1/workers/{other}/eligibility?policy=" + POLICY + "&through=2026-10":
        dict(admin=200, auditor=200, manager=404, worker=404),
}


@pytest.mark.parametrize("path", list(READS))
def test_reads(callers, ids, path):
    expected = READS[path]
    got = {role: status(callers[role], "GET", path.format(**ids)) for role in expected}
    assert got == expected


def test_lists_are_scoped_in_the_query(callers, ids):
    counts = {role: len(callers[role].all("/registry/v1/workers")) for role in ROLES}
    assert counts["admin"] == counts["auditor"] == counts["hr"] == counts["service"] >= 225
    assert 0 < counts["manager"] < counts["admin"] and counts["worker"] == 1
    manager_workers = {w["id"] for w in callers["manager"].all("/registry/v1/workers")}
    assert ids["own"] in manager_workers and ids["other"] not in manager_workers
    # masked for everyone; the bureau admin unmasks by stating a purpose (the others cannot)
    unmask = {"unmask": "true", "purpose": "e2e: role matrix"}
    for role in ROLES:
        visible = ids["own"] if role == "manager" else ids["me"]
        assert "*" in callers[role].get(f"/registry/v1/workers/{visible}")["id_number"], role
        worker = callers[role].get(f"/registry/v1/workers/{visible}", params=unmask)
        assert ("*" in worker["id_number"]) is (role != "admin"), (role, worker["id_number"])


WRITES = [  # (method, path, body, expected status per role): roles that may never act get 403
    ("POST", "/registry/v1/stations", {"name": "矩阵测试站", "kind": "centre", "division_code": "150624"},
     dict(admin=201, auditor=403, manager=403, worker=403, hr=403, service=403)),
    ("POST", "/projects/v1/calls", {"year": 2026, "title": "矩阵", "total_budget_fen": 100, "categories": ["elderly"],
                                    "window_opens": "2026-01-01", "window_closes": "2026-12-31",
                                    "division_code": "150624"},
     dict(admin=201, auditor=403, manager=403, worker=403, hr=403, service=403)),
    ("POST", "/subsidy/v1/disbursements", {"policy": POLICY, "month": "2025-06"},
     dict(admin=200, auditor=403, manager=403, worker=403, hr=403, service=403)),
    ("POST", "/auth/users", {"username": "matrix-user-{role}", "password": "a long passphrase",
                             "roles": ["auditor"]},
     dict(admin=201, auditor=403, manager=403, worker=403, hr=403, service=403)),
]


@pytest.mark.parametrize("method,path,body,expected", WRITES, ids=[w[1] for w in WRITES])
def test_writes(callers, method, path, body, expected):
    got = {}
    for role in expected:
        payload = json.loads(json.dumps(body).replace("{role}", role))
        got[role] = status(callers[role], method, path, json=payload)
    assert got == expected


def test_import_is_for_the_bureau_and_hr_systems(callers):
    row = [{"name": "矩阵", "id_number": "150624197406182317", "station": "乌兰镇社工站"}]
    got = {role: status(callers[role], "POST", "/registry/v1/workers/import", json=row) for role in ROLES}
    assert got["admin"] == got["hr"] == 200
    assert got["auditor"] == got["worker"] == got["service"] == 403
    assert got["manager"] == 200  # into their own station only (rows naming other stations are row errors)


# --- Every endpoint of the merged OpenAPI, for every role -------------------------------------------------
# Built against the gateway's /openapi.json: an endpoint there without a row here fails
# test_every_endpoint_of_the_merged_openapi_has_a_row. Requests: real ids for reads (so scoping shows: 404 for
# what a caller may not see); for writes a body of {} (an allowed role gets 422 from validation, a role that may
# never act 403 before the body is read) or an id that does not exist (allowed: 404), so nothing is changed.
# Columns: admin auditor manager worker hr service.

GHOST = "00000000-0000-4000-8000-000000000000"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def row(expected: str, *, query: dict | None = None, body=None) -> dict:
    codes = dict(zip(ROLES, (int(c) for c in expected.split()), strict=True))
    return {"expected": codes, "query": query or {}, "body": body}


def E(expected: str, **kwargs) -> dict:  # noqa: N802  (a table reads better with a short name)
    return row(expected, **kwargs)


W = "/registry/v1/workers/{own}"
EMPTY = {}
MATRIX = {
    # gateway
    "GET /healthz": E("200 200 200 200 200 200"),
    "GET /readyz": E("200 200 200 200 200 200"),
    "POST /auth/token": E("400 400 400 400 400 400", body=EMPTY),
    "GET /.well-known/jwks.json": E("200 200 200 200 200 200"),
    "POST /auth/users": E("422 403 403 403 403 403", body=EMPTY),
    "POST /auth/clients": E("422 403 403 403 403 403", body=EMPTY),
    # the gateway's own audit trail (users, clients, keys, sessions, sign-in throttling): as every service's
    "GET /auth/audit": E("200 200 404 404 404 404"),
    "GET /auth/audit/verify": E("200 200 404 404 404 404"),
    # registry: stations and organizations are a directory; the bureau keeps it
    "GET /registry/healthz": E("200 200 200 200 200 200"),
    "GET /registry/readyz": E("200 200 200 200 200 200"),
    "GET /registry/v1/stations": E("200 200 200 200 200 200"),
    "POST /registry/v1/stations": E("422 403 403 403 403 403", body=EMPTY),
    "GET /registry/v1/stations/{station_id}": E("200 200 200 200 200 200"),
    "GET /registry/v1/organizations": E("200 200 200 200 200 200"),
    "POST /registry/v1/organizations": E("422 403 403 403 403 403", body=EMPTY),
    # people: all for the bureau, HR systems and services; a manager their stations'; a worker themselves
    "GET /registry/v1/workers": E("200 200 200 200 200 200"),
    "POST /registry/v1/workers": E("422 403 422 403 422 403", body=EMPTY),
    "POST /registry/v1/workers/import": E("422 403 422 403 422 403", body=EMPTY),
    "GET /registry/v1/workers/import/template": E("200 403 200 403 200 403"),
    "GET /registry/v1/workers/import/reviews": E("200 403 403 403 403 403"),
    "GET /registry/v1/workers/import/reviews/{review_id}": E("404 403 403 403 403 403"),
    "POST /registry/v1/workers/import/reviews/{review_id}/merge": E("404 403 403 403 403 403",
                                                                     body={"keep": "existing"}),
    "POST /registry/v1/workers/import/reviews/{review_id}/confirm": E("404 403 403 403 403 403"),
    "GET /registry/v1/workers/{worker_id}": E("200 200 200 404 200 200"),
    "PATCH /registry/v1/workers/{worker_id}": E("422 403 422 403 422 403", body={"name": ""}),
    "POST /registry/v1/workers/{worker_id}/registration": E("422 403 403 403 403 403", body=EMPTY),
    "GET /registry/v1/workers/{worker_id}/trainings": E("200 200 200 404 200 200"),
    "POST /registry/v1/workers/{worker_id}/trainings": E("422 403 422 403 422 403", body=EMPTY),
    "GET /registry/v1/workers/{worker_id}/honours": E("200 200 200 404 200 200"),
    "POST /registry/v1/workers/{worker_id}/honours": E("422 403 422 403 422 403", body=EMPTY),
    "GET /registry/v1/workers/{worker_id}/employments": E("200 200 200 404 200 200"),
    "POST /registry/v1/workers/{worker_id}/employments": E("422 403 422 403 422 403", body=EMPTY),
    "POST /registry/v1/workers/{worker_id}/employments/{employment_id}/confirm": E("404 403 403 403 403 403"),
    "POST /registry/v1/workers/{worker_id}/employments/{employment_id}/reject": E("404 403 403 403 403 403"),
    "GET /registry/v1/employment-claims": E("200 200 403 403 403 403"),
    "GET /registry/v1/workers/{worker_id}/certificates": E("200 200 200 404 200 200"),
    "POST /registry/v1/workers/{worker_id}/certificates": E("422 403 422 403 422 403", body=EMPTY),
    "POST /registry/v1/workers/{worker_id}/certificates/{certificate_id}/revoke": E(
        "422 403 403 403 422 403", body=EMPTY),
    "POST /registry/v1/workers/{worker_id}/certificates/{certificate_id}/verify": E("404 403 403 403 403 403"),
    "POST /registry/v1/workers/{worker_id}/certificates/{certificate_id}/reject": E(
        "422 403 403 403 403 403", body=EMPTY),
    "GET /registry/v1/certificate-claims": E("200 200 403 403 403 403"),
    # each service's audit trail: the bureau and auditors; to everyone else it does not exist
    "GET /registry/v1/audit": E("200 200 404 404 404 404"),
    "GET /registry/v1/audit/verify": E("200 200 404 404 404 404"),
    "GET /registry/v1/stats": E("200 200 200 200 200 200"),
    "GET /registry/v1/internal/stations/{station_id}": E("200 403 403 403 403 200"),
    "POST /registry/v1/internal/employment-check": E("422 403 403 403 403 422", body=EMPTY),
    "POST /registry/v1/internal/workers/lookup": E("422 403 403 403 403 422", body=EMPTY),
    # clear payee data: only the subsidy service's client, not the bureau nor any other service
    "POST /registry/v1/internal/workers/payees": E("403 403 403 403 403 403",
                                                   body={"worker_ids": [], "purpose": "matrix"}),
    # bank accounts: masked for all; a change by anyone but the bureau waits for a bureau_admin
    "GET /registry/v1/workers/{worker_id}/bank-accounts": E("200 200 200 404 200 200"),
    "POST /registry/v1/workers/{worker_id}/bank-accounts": E("422 403 422 422 422 403", body=EMPTY),
    "GET /registry/v1/bank-account-changes": E("200 200 403 403 403 403"),
    "POST /registry/v1/workers/{worker_id}/bank-accounts/{account_id}/confirm": E("404 403 403 403 403 403"),
    "POST /registry/v1/workers/{worker_id}/bank-accounts/{account_id}/reject": E("404 403 403 403 403 403"),
    # subsidy: payment data; not for HR systems or the services at all
    "GET /subsidy/healthz": E("200 200 200 200 200 200"),
    "GET /subsidy/readyz": E("200 200 200 200 200 200"),
    "GET /subsidy/v1/policies": E("200 200 200 200 403 403"),
    "GET /subsidy/v1/audit": E("200 200 404 404 403 403"),
    "GET /subsidy/v1/audit/verify": E("200 200 404 404 403 403"),
    "POST /subsidy/v1/policies/{code}/versions": E("422 403 403 403 403 403", body=EMPTY),
    "PATCH /subsidy/v1/policies/{code}/versions/{version}": E("404 403 403 403 403 403", body=EMPTY),
    "GET /subsidy/v1/workers/{worker_id}/eligibility": E(
        "200 200 200 404 403 403", query={"policy": POLICY, "through": "2026-10"}),
    "GET /subsidy/v1/applications": E("200 200 200 200 403 403"),
    "POST /subsidy/v1/applications": E("422 403 422 422 403 403", body=EMPTY),
    "GET /subsidy/v1/applications/{application_id}": E("200 200 200 404 403 403"),
    "POST /subsidy/v1/applications/{application_id}/approve": E("404 403 403 403 403 403"),
    "POST /subsidy/v1/applications/{application_id}/reject": E("422 403 403 403 403 403", body=EMPTY),
    "POST /subsidy/v1/disbursements": E("200 403 403 403 403 403", body={"policy": POLICY, "month": "2025-06"}),
    "GET /subsidy/v1/disbursements": E("200 200 200 200 403 403"),  # a social worker's list is empty
    "GET /subsidy/v1/disbursements/{disbursement_id}": E("200 200 200 404 403 403"),
    "GET /subsidy/v1/disbursements/{disbursement_id}/lines": E("200 200 200 404 403 403"),
    "GET /subsidy/v1/disbursements/{disbursement_id}/export": E("200 200 200 404 403 403", query={"format": "csv"}),
    "POST /subsidy/v1/disbursements/{disbursement_id}/lines/{line_id}/mark": E(
        "404 403 403 403 403 403", body={"status": "paid"}),
    "POST /subsidy/v1/awards": E("422 403 403 403 403 403", body=EMPTY),
    "GET /subsidy/v1/awards": E("200 200 200 200 403 403"),
    "GET /subsidy/v1/award-types": E("200 200 200 200 403 403"),
    "POST /subsidy/v1/awards/{award_id}/approve": E("404 403 403 403 403 403"),
    "POST /subsidy/v1/awards/{award_id}/reject": E("404 403 403 403 403 403", body={"reason": "matrix"}),
    "GET /subsidy/v1/disbursements/{disbursement_id}/workers": E("200 200 200 404 403 403"),
    "GET /subsidy/v1/workers/{worker_id}/statement": E("200 200 200 404 403 403",
                                                       query={"policy": POLICY, "through": "2026-10"}),
    "GET /subsidy/v1/receivables": E("200 200 200 200 403 403"),
    "GET /subsidy/v1/receivables/{worker_id}": E("200 200 200 404 403 403"),
    "POST /subsidy/v1/receivables/{worker_id}/repayments": E("422 403 403 403 403 403", body=EMPTY),
    "POST /subsidy/v1/receivables/{worker_id}/write-offs": E("422 403 403 403 403 403", body=EMPTY),
    "GET /subsidy/v1/write-offs": E("200 200 200 200 403 403"),
    "POST /subsidy/v1/write-offs/{write_off_id}/approve": E("404 403 403 403 403 403"),
    "POST /subsidy/v1/write-offs/{write_off_id}/reject": E("404 403 403 403 403 403", body={"reason": "matrix"}),
    "GET /subsidy/v1/workers/{worker_id}/payments": E("200 200 200 404 403 403"),
    # the payment cycle: the bureau moves it; the bank file (clear accounts) is the bureau_admin's alone
    "GET /subsidy/v1/policies/{code}/payment-terms": E("200 200 200 200 403 403"),
    "PUT /subsidy/v1/policies/{code}/payment-terms": E("422 403 403 403 403 403", body=EMPTY),
    "GET /subsidy/v1/disbursements/{disbursement_id}/cycle": E("200 200 200 404 403 403"),
    "POST /subsidy/v1/disbursements/{disbursement_id}/publish": E("404 403 403 403 403 403"),
    "GET /subsidy/v1/disbursements/{disbursement_id}/notice": E("409 409 409 404 403 403"),  # a draft: no notice
    "POST /subsidy/v1/disbursements/{disbursement_id}/lines/{line_id}/objection": E(
        "422 403 422 422 403 403", body=EMPTY),
    "GET /subsidy/v1/disbursements/{disbursement_id}/objections": E("200 200 200 404 403 403"),
    "POST /subsidy/v1/disbursements/{disbursement_id}/objections/{objection_id}/uphold": E(
        "404 403 403 403 403 403"),
    "POST /subsidy/v1/disbursements/{disbursement_id}/objections/{objection_id}/dismiss": E(
        "404 403 403 403 403 403"),
    "POST /subsidy/v1/disbursements/{disbursement_id}/approve": E("404 403 403 403 403 403"),
    "POST /subsidy/v1/disbursements/{disbursement_id}/release": E("404 403 403 403 403 403"),
    "GET /subsidy/v1/disbursements/{disbursement_id}/bank-file": E("409 403 403 403 403 403"),  # a draft: none
    "GET /subsidy/v1/disbursements/{disbursement_id}/bank-payments": E("200 200 200 404 403 403"),
    "POST /subsidy/v1/disbursements/{disbursement_id}/bank-results": E("404 403 403 403 403 403"),
    "GET /subsidy/v1/workers/{worker_id}/notifications": E("200 200 200 404 403 403"),
    "POST /subsidy/v1/webhooks": E("422 403 403 403 403 403", body=EMPTY),
    "GET /subsidy/v1/webhooks": E("200 200 403 403 403 403"),
    "POST /subsidy/v1/webhooks/{webhook_id}/disable": E("404 403 403 403 403 403"),
    "GET /subsidy/v1/webhooks/{webhook_id}/deliveries": E("404 404 403 403 403 403"),
    "GET /subsidy/v1/recoveries": E("200 200 200 200 403 403"),
    "GET /subsidy/v1/reports/summary": E(
        "200 200 200 403 403 403", query={"policy": POLICY, "from": "2023-01", "to": "2026-10"}),
    "GET /subsidy/v1/reports/forecast": E("200 200 403 403 403 403", query={"policy": POLICY}),
    # projects: budgets, expenses and service months; not for HR systems or the services at all
    "GET /projects/healthz": E("200 200 200 200 200 200"),
    "GET /projects/readyz": E("200 200 200 200 200 200"),
    "GET /projects/v1/calls": E("200 200 200 200 403 403"),
    "GET /projects/v1/audit": E("200 200 404 404 403 403"),
    "GET /projects/v1/audit/verify": E("200 200 404 404 403 403"),
    "POST /projects/v1/calls": E("422 403 403 403 403 403", body=EMPTY),
    "GET /projects/v1/calls/{call_id}": E("200 200 200 200 403 403"),
    "GET /projects/v1/projects": E("200 200 200 200 403 403"),
    "POST /projects/v1/projects": E("422 403 422 403 403 403", body=EMPTY),
    "GET /projects/v1/projects/{project_id}": E("200 200 200 404 403 403"),
    "POST /projects/v1/projects/{project_id}/submit": E("404 403 404 403 403 403"),
    "POST /projects/v1/projects/{project_id}/approve": E("422 403 403 403 403 403", body=EMPTY),
    "POST /projects/v1/projects/{project_id}/reject": E("404 403 403 403 403 403", body=EMPTY),
    "POST /projects/v1/projects/{project_id}/start": E("404 403 404 403 403 403"),
    "POST /projects/v1/projects/{project_id}/complete": E("404 403 404 403 403 403"),
    "POST /projects/v1/projects/{project_id}/close": E("404 403 403 403 403 403"),
    "GET /projects/v1/projects/{project_id}/activities": E("200 200 200 404 403 403"),
    "POST /projects/v1/projects/{project_id}/activities": E("422 403 422 403 403 403", body=EMPTY),
    "GET /projects/v1/projects/{project_id}/summary": E("200 200 200 404 403 403"),
    "GET /projects/v1/stations/{station_id}/summary": E(
        "200 200 200 404 403 403", query={"from": "2023-01", "to": "2026-10"}),
    "GET /projects/v1/service-reports": E("200 200 200 200 403 403"),
    "POST /projects/v1/service-reports": E("422 403 422 403 403 403", body=EMPTY),
    "GET /projects/v1/service-reports/{report_id}": E("200 200 200 404 403 403"),
    "POST /projects/v1/service-reports/{report_id}/confirm": E("404 403 404 403 403 403"),
    "POST /projects/v1/service-reports/{report_id}/amend": E("422 403 422 403 403 403", body=EMPTY),
}

# Path parameters: reads get real objects (of manager1's station, not worker1's own), writes an id that does
# not exist, so the matrix changes nothing.
READ_IDS = {"worker_id": "own", "station_id": "wulan", "disbursement_id": "batch", "application_id": "application",
            "call_id": "call", "project_id": "project", "report_id": "report", "code": "policy"}
WRITE_IDS = {"worker_id": "own", "code": "policy", "version": "999", "line_id": "1"}


@pytest.fixture(scope="module")
def matrix_ids(callers, ids):
    admin = callers["admin"]
    # an application and a batch the station manager sees (of a paid worker at their station), not worker1's own
    # (to them it is a 404). Taken from the manager's list: the first of all applications that was not `own`'s
    # was at another station whenever the demo's first applicant happened to be `own` (the manager's 200 was a 404).
    def paid_in(application: dict) -> str | None:
        return next((line["disbursement_id"] for line in admin.all(
            f"/subsidy/v1/workers/{application['worker_id']}/payments") if line.get("disbursement_id")), None)

    application, batch = next((a, b) for a in callers["manager"].all("/subsidy/v1/applications")
                              if a["worker_id"] != ids["me"] and (b := paid_in(a)))
    projects = admin.all("/projects/v1/projects", station_id=ids["wulan"])
    reports = admin.all("/projects/v1/service-reports", station_id=ids["wulan"])
    return {**ids, "application": application["id"], "batch": batch, "call": admin.all("/projects/v1/calls")[0]["id"],
            "project": projects[0]["id"], "report": reports[0]["id"], "policy": POLICY}


def request_for(endpoint: str, ids: dict) -> tuple[str, str]:
    method, path = endpoint.split(" ", 1)
    names = READ_IDS if method == "GET" else WRITE_IDS

    def fill(match) -> str:
        key = names.get(match.group(1))
        return ids.get(key, key) if key else GHOST

    return method, re.sub(r"\{(\w+)\}", fill, path)


def call(api: Api, method: str, path: str, *, query: dict, body) -> int:
    for _ in range(20):  # wait out the gateway's rate limit as told
        response = api.http.request(method, path, params=query, **({"json": body} if body is not None else {}))
        if response.status_code != 429:
            return response.status_code
        time.sleep(float(response.headers.get("retry-after", "1")))
    return 429


def test_every_endpoint_of_the_merged_openapi_has_a_row(suite):
    spec = httpx.get(f"{suite.gateway}/openapi.json", timeout=30).json()
    assert not spec["info"].get("x-unavailable-services"), spec["info"]
    endpoints = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
                 if method in HTTP_METHODS}
    assert sorted(endpoints - set(MATRIX)) == [], "endpoints without an expectation per role"
    assert sorted(set(MATRIX) - endpoints) == [], "rows for endpoints that are gone"


def test_role_by_endpoint_matrix(callers, matrix_ids):
    mismatches = []
    for endpoint, spec in MATRIX.items():
        method, path = request_for(endpoint, matrix_ids)
        got = {role: call(callers[role], method, path, query=spec["query"], body=spec["body"]) for role in ROLES}
        if got != spec["expected"]:
            mismatches.append(f'    "{endpoint}": E("{" ".join(str(got[r]) for r in ROLES)}"),  '
                              f'# expected {" ".join(str(spec["expected"][r]) for r in ROLES)}')
    assert not mismatches, "\n" + "\n".join(mismatches)
