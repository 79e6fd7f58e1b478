"""Awards are money like any other (issue 13: `POST /subsidy/v1/awards` took a worker id that did not exist and
100,000,000 fen, was `paid` at once with no second person, and stored `awarded_on: 0` as 1970-01-01).

Through the gateway of the demo stack, as an attacker holding one bureau_admin's password would try it: the
worker must exist in the registry, the amount is the award type's (the caller cannot name one), the date is a
real one, a new award is `recorded` and pays nothing, its recorder cannot approve it, and an approved award is
still unpaid until a disbursement batch takes it. Station managers, workers, auditors and HR systems cannot
record one at all.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from devstack.api import Api
from devstack.demo import POLICY
from tests.security.conftest import Suite
from tests.support import copy_policy

AWARD_POLICY = "security-award-batch"


@pytest.fixture(scope="module")
def recorder(suite: Suite) -> Api:
    password = uuid.uuid4().hex
    suite.admin().post("/auth/users", {"username": "admin-award-recorder", "password": password,
                                       "roles": ["bureau_admin"]})
    return Api.login(suite.gateway, "admin-award-recorder", password)


@pytest.fixture(scope="module")
def worker_id(suite: Suite) -> str:
    """A worker the demo has paid already (of the first batch's lines): not one never paid, which the bureau tests
    after this file look for (an award line is a payment too, and the first worker listed is any of them)."""
    admin = suite.admin()
    batch = min(admin.all("/subsidy/v1/disbursements"), key=lambda b: b["created_at"])
    return admin.get(f"/subsidy/v1/disbursements/{batch['id']}/lines", params={"limit": 1})["items"][0]["worker_id"]


@pytest.fixture(scope="module")
def award_type(suite: Suite) -> dict:
    return suite.admin().get("/subsidy/v1/award-types")["items"][0]


def refused(api: Api, path: str, body: dict | None, status: int, field: str | None = None) -> dict:
    """POST expecting a problem (the Api waits out the gateway's rate limit); names `field` when given."""
    problem = api.request("POST", path, json=body, expect=status)
    assert problem["status"] == status and problem["detail"], problem
    if field is not None:
        assert problem.get("field") == field or field in problem["detail"], problem
    return problem


def test_an_award_needs_a_real_worker_the_types_amount_and_a_real_date(recorder, worker_id, award_type):
    good = {"worker_id": worker_id, "award_type": award_type["code"], "awarded_on": "2026-06-01"}
    for bad, field in (({"worker_id": str(uuid.uuid4())}, "worker_id"),  # no such person
                       ({"amount_fen": 100_000_000}, "amount_fen"),  # the amount is the type's, never the caller's
                       ({"awarded_on": 0}, "awarded_on"), ({"awarded_on": "1970-01-01"}, "awarded_on"),
                       ({"award_type": "no-such-type"}, "award_type"), ({"status": "paid"}, "status")):
        refused(recorder, "/subsidy/v1/awards", {**good, **bad}, 422, field)

    payments_before = recorder.all(f"/subsidy/v1/workers/{worker_id}/payments")
    award = recorder.post("/subsidy/v1/awards", good, expect=201)
    assert (award["status"], award["amount_fen"]) == ("recorded", award_type["amount_fen"])
    assert recorder.all(f"/subsidy/v1/workers/{worker_id}/payments") == payments_before  # recorded pays nothing

    # One person cannot move the money alone: its recorder may not approve it.
    refused(recorder, f"/subsidy/v1/awards/{award['id']}/approve", None, 403)


def test_a_second_admin_approves_and_it_is_still_not_paid(suite, recorder, worker_id, award_type):
    award = recorder.post("/subsidy/v1/awards", {"worker_id": worker_id, "award_type": award_type["code"],
                                                 "awarded_on": "2026-05-01"})
    payments_before = recorder.all(f"/subsidy/v1/workers/{worker_id}/payments")
    approved = suite.admin().post(f"/subsidy/v1/awards/{award['id']}/approve")
    assert approved["status"] == "approved"
    refused(suite.admin(), f"/subsidy/v1/awards/{award['id']}/approve", None, 409)  # decided once
    # paid only through a disbursement batch and its export, never by approving
    assert recorder.all(f"/subsidy/v1/workers/{worker_id}/payments") == payments_before
    # The next batch (of any policy: here one of this test's own, with no applications) pays it as one transfer,
    # and leaves no approved award behind for the tests that create batches after this one.
    asyncio.run(copy_policy(suite.dsn("subsidy"), AWARD_POLICY, POLICY))
    batch = suite.admin().post("/subsidy/v1/disbursements", {"policy": AWARD_POLICY, "month": "2026-10"})
    lines = suite.admin().all(f"/subsidy/v1/disbursements/{batch['id']}/lines")
    assert [(line["worker_id"], line["amount_fen"]) for line in lines] == [(worker_id, award_type["amount_fen"])]
    assert batch["transfers"] == 1


@pytest.mark.parametrize("login", ["auditor1", "manager1", "worker1"])
def test_no_one_but_the_bureau_records_an_award(suite, login, worker_id, award_type):
    refused(suite.login(login), "/subsidy/v1/awards", {
        "worker_id": worker_id, "award_type": award_type["code"], "awarded_on": "2026-06-01"}, 403)


def test_an_hr_system_records_no_award(hr, worker_id, award_type):
    refused(hr, "/subsidy/v1/awards", {"worker_id": worker_id, "award_type": award_type["code"],
                                       "awarded_on": "2026-06-01"}, 403)
