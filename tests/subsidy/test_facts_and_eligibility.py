"""Facts from events (idempotent, order-independent), policies, and explained eligibility over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from tests.subsidy.conftest import POLICY, STATION
from tests.support import assert_problem


async def eligibility(client, headers, worker_id, through="2027-06", **params):
    response = await client.get(f"/v1/workers/{worker_id}/eligibility",
                                params={"policy": POLICY, "through": through, **params}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body, {m["month"]: m for m in body["months"]}


async def test_default_policy_is_listed(client, mint):
    response = await client.get("/v1/policies", headers=mint.headers("social_worker"))
    assert response.status_code == 200
    default = [p for p in response.json()["items"] if p["code"] == POLICY and p["version"] == 1][0]
    assert (default["division_code"], default["rate_senior_fen"], default["rate_intermediate_fen"],
            default["rate_assistant_fen"], default["qualifying_months"], default["cap_months"]) == \
        ("150624", 100000, 50000, 30000, 12, 36)


async def test_new_policy_version(client, mint, admin):
    body = {"rate_assistant_fen": 35000, "effective_from": "2099-01-01"}
    assert_problem(await client.post(f"/v1/policies/{POLICY}/versions", json=body,
                                     headers=mint.headers("auditor")), 403)
    assert_problem(await client.post(f"/v1/policies/{POLICY}/versions", json={**body, "effective_to": "2098-01-01"},
                                     headers=admin), 422)
    assert_problem(await client.post(f"/v1/policies/{POLICY}/versions", json={**body, "rate_assistant_fen": -1},
                                     headers=admin), 422, field="rate_assistant_fen")
    assert_problem(await client.post("/v1/policies/no-such-policy/versions", json=body, headers=admin), 404)
    listed = (await client.get("/v1/policies", headers=admin)).json()["items"]
    assert [p["version"] for p in listed if p["code"] == POLICY] == [1]  # nothing half-written
    response = await client.post(f"/v1/policies/{POLICY}/versions", json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["version"], created["rate_assistant_fen"], created["rate_senior_fen"]) == (2, 35000, 100000)


async def test_worked_example_through_the_api(client, events, admin):
    worker = uuid.uuid4()
    await events.worked_example(worker)
    body, months = await eligibility(client, admin, worker, through="2027-06", **{"from": "2023-01"})
    assert body["eligible"] is True
    assert months["2023-06"]["rule"] == "no_certificate"
    assert months["2023-11"]["rule"] == "continuity" and "11 of 12" in months["2023-11"]["reason"]
    assert months["2023-12"] == {"month": "2023-12", "payable": True, "rule": "payable", "level": "assistant",
                                 "amount_fen": 30000, "reason": months["2023-12"]["reason"], "net_fen": 0}
    assert months["2024-11"]["amount_fen"] == 30000 and months["2024-12"]["amount_fen"] == 50000
    payable = body["payable_months"]
    assert len(payable) == 36 and payable[0]["month"] == "2023-12" and payable[-1]["month"] == "2026-11"
    assert months["2026-12"]["rule"] == "cap_reached" and not months["2026-12"]["payable"]
    assert body["payable_total_fen"] == 12 * 30000 + 24 * 50000
    assert any("cap_reached" in r for r in body["reasons"])


async def test_ineligible_worker_is_told_why(client, events, admin):
    worker = uuid.uuid4()
    await events.deliver(*events.months(worker, "2024-01", "2024-07"),
                         events.certificate(worker, "senior", date(2023, 12, 1)))
    body, months = await eligibility(client, admin, worker, through="2024-07")
    assert body["eligible"] is False and body["payable_months"] == []
    assert months["2024-07"]["rule"] == "continuity" and "only 7 of 12" in months["2024-07"]["reason"]
    assert body["reasons"][0].startswith("2024-07")


async def test_revocation_before_issue_ends_revoked(client, events, admin):
    worker, cert = uuid.uuid4(), uuid.uuid4()
    await events.deliver(*events.months(worker, "2023-01", "2025-06"), events.registration(worker, date(2023, 1, 2)))
    await events.deliver(events.revoke(worker, cert, date(2024, 6, 3)))
    await events.deliver(events.certificate(worker, "senior", date(2023, 1, 5), cert))
    _, months = await eligibility(client, admin, worker, through="2025-06")
    assert months["2024-05"]["amount_fen"] == 100000
    assert months["2024-06"]["rule"] == "no_certificate"


async def test_highest_revision_wins_whatever_the_order(client, events, admin):
    worker = uuid.uuid4()
    await events.deliver(*events.months(worker, "2023-01", "2024-12"), events.registration(worker, date(2023, 1, 2)),
                         events.certificate(worker, "assistant", date(2023, 1, 5)))
    amendment = events.month(worker, "2024-06", full_time=False, revision=3)
    stale = events.month(worker, "2024-06", full_time=True, revision=2)
    await events.deliver(amendment, stale)
    _, months = await eligibility(client, admin, worker, through="2024-12")
    assert months["2024-06"]["rule"] == "not_full_time"
    assert months["2024-07"]["rule"] == "continuity"
    async with client.app.state.engine.connect() as conn:
        row = (await conn.execute(text("SELECT full_time, revision FROM service_months WHERE worker_id = :w "
                                       "AND month = '2024-06'"), {"w": worker})).one()
    assert tuple(row) == (False, 3)


async def test_latest_registration_wins_and_redelivery_changes_nothing(client, events, admin):
    worker = uuid.uuid4()
    now = datetime.now(UTC)
    newer = events.registration(worker, date(2023, 2, 1), at=now)
    older = events.registration(worker, date(2025, 1, 1), at=now - timedelta(days=3))
    await events.deliver(newer, older, newer)
    async with client.app.state.engine.connect() as conn:
        registered = (await conn.execute(text("SELECT registered_on FROM registrations WHERE worker_id = :w"),
                                         {"w": worker})).scalar()
        inbox = (await conn.execute(text("SELECT count(*) FROM inbox WHERE event_id = :e"), {"e": newer.id})).scalar()
    assert registered == date(2023, 2, 1) and inbox == 1
    assert events.inbox.duplicates >= 1


async def test_registration_with_another_bureau_does_not_count(client, events, admin):
    worker = uuid.uuid4()
    await events.deliver(*events.months(worker, "2023-01", "2024-06"),
                         events.registration(worker, date(2023, 1, 2), division="150602"),
                         events.certificate(worker, "assistant", date(2023, 1, 5)))
    body, months = await eligibility(client, admin, worker, through="2024-06")
    assert not body["eligible"] and months["2024-06"]["rule"] == "not_registered"
    assert "150602" in months["2024-06"]["reason"]


async def test_eligibility_is_scoped(client, events, mint):
    worker, other_station = uuid.uuid4(), uuid.uuid4()
    await events.deliver(events.month(worker, "2024-01"))
    params = {"policy": POLICY, "through": "2024-06"}
    url = f"/v1/workers/{worker}/eligibility"
    assert (await client.get(url, params=params, headers=mint.headers("social_worker", worker_id=worker))).status_code \
        == 200
    assert_problem(await client.get(url, params=params, headers=mint.headers("social_worker",
                                                                               worker_id=uuid.uuid4())), 404)
    assert (await client.get(url, params=params, headers=mint.headers("station_manager", station_ids=[STATION]))
            ).status_code == 200
    assert_problem(await client.get(url, params=params,
                                    headers=mint.headers("station_manager", station_ids=[other_station])), 404)
    assert (await client.get(url, params=params, headers=mint.headers("auditor"))).status_code == 200
    for nobody in (mint.headers(), mint.headers("hr_system"), mint.headers("service")):  # not users of the service
        assert_problem(await client.get(url, params=params, headers=nobody), 403)
    assert_problem(await client.get(url, params={"policy": POLICY, "through": "2024-13"},
                                    headers=mint.headers("auditor")), 422, field="through")
    assert_problem(await client.get(url, params={"policy": "nope", "through": "2024-06"},
                                    headers=mint.headers("auditor")), 422, field="policy")
    assert_problem(await client.get(url, params=params), 401)
    # a worker this service has never heard of: 404 for everyone, the bureau too
    unknown = f"/v1/workers/{uuid.uuid4()}/eligibility"
    assert_problem(await client.get(unknown, params=params, headers=mint.headers("bureau_admin")), 404)
    assert_problem(await client.get(unknown, params=params, headers=mint.headers("auditor")), 404)
