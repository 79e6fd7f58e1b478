"""HR systems read nothing of payments (issue 13: an hr_system client read disbursement lines, CSV/XLSX
exports with names and amounts, and applications).

An HR system exchanges registry data: it still reads and imports workers. Every subsidy route (payments,
lines, exports, applications, recoveries, reports, eligibility with amounts) and every projects route
(budgets, expenses) answers it 403 before anything is read, whatever the id.
"""

from __future__ import annotations

import uuid

import pytest

from devstack.demo import POLICY, last_month
from shared.clock import bureau_today

THROUGH = last_month(bureau_today())


@pytest.fixture(scope="module")
def paid(suite) -> dict:
    admin = suite.admin()
    applications = admin.all("/subsidy/v1/applications", status="approved")
    worker = applications[0]["worker_id"]
    lines = admin.all(f"/subsidy/v1/workers/{worker}/payments")
    batch = next(line["disbursement_id"] for line in lines if line.get("disbursement_id"))
    return {"worker": worker, "application": applications[0]["id"], "batch": batch}


def payment_reads(p: dict) -> list[tuple[str, dict]]:
    month = {"from": "2023-01", "to": THROUGH}
    return [
        (f"/subsidy/v1/disbursements/{p['batch']}", {}),
        (f"/subsidy/v1/disbursements/{p['batch']}/lines", {}),
        (f"/subsidy/v1/disbursements/{p['batch']}/export", {"format": "csv"}),
        (f"/subsidy/v1/disbursements/{p['batch']}/export", {"format": "xlsx"}),
        ("/subsidy/v1/applications", {}),
        (f"/subsidy/v1/applications/{p['application']}", {}),
        (f"/subsidy/v1/workers/{p['worker']}/payments", {}),
        (f"/subsidy/v1/workers/{p['worker']}/eligibility", {"policy": POLICY, "through": THROUGH}),
        ("/subsidy/v1/recoveries", {}),
        ("/subsidy/v1/reports/summary", {"policy": POLICY, **month}),
        ("/subsidy/v1/reports/forecast", {"policy": POLICY}),
        ("/subsidy/v1/policies", {}),
        ("/projects/v1/projects", {}),
        ("/projects/v1/calls", {}),
        ("/projects/v1/service-reports", {}),
    ]


def test_an_hr_system_reads_no_payment_data(suite, hr, paid):
    admin = suite.admin()
    for path, params in payment_reads(paid):
        assert admin.http.get(path, params=params).status_code == 200, path  # the data is there
        r = hr.http.get(path, params=params)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "amount_fen" not in r.text and "id_number" not in r.text
    # the same answer for an id that does not exist: a 403 says nothing about what exists
    assert hr.http.get(f"/subsidy/v1/disbursements/{uuid.uuid4()}/lines").status_code == 403
    # nor can it write there
    assert hr.http.post("/subsidy/v1/applications", json={"worker_id": paid["worker"],
                                                          "policy": POLICY}).status_code == 403


def test_an_hr_system_still_exchanges_the_registry(suite, hr, paid):
    assert hr.http.get(f"/registry/v1/workers/{paid['worker']}").status_code == 200
    assert hr.get("/registry/v1/workers", params={"limit": 5})["items"]
    assert hr.http.get(f"/registry/v1/workers/{paid['worker']}/certificates").status_code == 200
