"""Role x endpoint matrix across the three services, through the gateway with real tokens.

Each role sees and does what ARCHITECTURE.md says: bureau_admin everything; auditor reads; a station
manager their station's workers; a social worker themselves; an HR system imports and reads; the services
read. A caller may not see an object: 404. A role that may never take an action: 403.
"""

from __future__ import annotations

import json

import pytest

from devstack.api import Api
from devstack.demo import POLICY

ROLES = ("admin", "auditor", "manager", "worker", "hr", "service")


@pytest.fixture(scope="module")
def callers(suite, tmp_path_factory):
    admin = suite.admin()
    hr = admin.post("/auth/clients", {"client_id": "hr-matrix", "kind": "hr_system"})
    state = next(p for p in tmp_path_factory.getbasetemp().rglob("secrets.json"))
    secrets = json.loads(state.read_text())
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
    # masked for everyone but the bureau admin
    for role in ROLES:
        visible = ids["own"] if role == "manager" else ids["me"]
        worker = callers[role].get(f"/registry/v1/workers/{visible}")
        masked = "*" in worker["id_number"]
        assert masked is (role != "admin"), (role, worker["id_number"])


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
