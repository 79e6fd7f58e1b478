"""Monthly disbursement: batches created once, arrears, failed lines paid again, recoveries, awards, reports."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import date

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from services.registry.app import create_app as create_registry_app
from services.registry.settings import RegistrySettings
from shared.registry_client import RegistryClient
from tests.subsidy.conftest import STATION, all_lines, approved, new_policy
from tests.support import assert_problem, fresh_database


async def batch(client, headers, policy, month, expect=201) -> dict:
    response = await client.post("/v1/disbursements", json={"policy": policy, "month": month}, headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


def by_worker(lines, worker) -> list[tuple]:
    return [(line["month"], line["level"], line["amount_fen"]) for line in lines if line["worker_id"] == str(worker)]


async def test_batches_pay_arrears_once_and_return_the_same_batch(client, events, mint, admin):
    policy = await new_policy(client)
    worker, unapproved = uuid.uuid4(), uuid.uuid4()
    await events.worked_example(worker)
    await events.worked_example(unapproved)
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2024-01")
    assert (first["line_count"], first["total_fen"]) == (2, 60000)
    lines = await all_lines(client, admin, first["id"])
    assert by_worker(lines, worker) == [("2023-12", "assistant", 30000), ("2024-01", "assistant", 30000)]
    assert by_worker(lines, unapproved) == []  # payment needs an approved application
    again = await batch(client, admin, policy, "2024-01", expect=200)
    assert again["id"] == first["id"] and again["line_count"] == 2
    second = await batch(client, admin, policy, "2024-12")
    months = by_worker(await all_lines(client, admin, second["id"]), worker)
    assert months[0] == ("2024-02", "assistant", 30000) and months[-1] == ("2024-12", "intermediate", 50000)
    assert len(months) == 11
    # the same fact told again (a new event id, the same revision) changes no amount
    await events.deliver(events.month(worker, "2024-01", full_time=False, revision=1))
    assert by_worker(await all_lines(client, admin, first["id"]), worker)[1] == ("2024-01", "assistant", 30000)
    # a version that has paid is immutable; changes make a new version
    assert_problem(await client.patch(f"/v1/policies/{policy}/versions/1", json={"rate_assistant_fen": 1},
                                      headers=admin), 409)
    assert_problem(await client.post("/v1/disbursements", json={"policy": policy, "month": "2024-13"},
                                     headers=admin), 422, field="month")
    assert_problem(await client.post("/v1/disbursements", json={"policy": policy, "month": "2025-01"},
                                     headers=mint.headers("auditor")), 403)
    async with client.app.state.engine.connect() as conn:
        batches = (await conn.execute(text("SELECT count(*) FROM disbursements WHERE policy_code = :p"),
                                      {"p": policy})).scalar()
    assert batches == 2
    got = await client.get(f"/v1/disbursements/{first['id']}", headers=mint.headers("auditor"))
    assert got.status_code == 200 and got.json()["total_fen"] == 60000
    assert_problem(await client.get(f"/v1/disbursements/{first['id']}",
                                    headers=mint.headers("social_worker", worker_id=worker)), 404)


async def test_fifty_concurrent_requests_make_one_batch(client, events, mint, admin):
    policy = await new_policy(client)
    workers = [uuid.uuid4() for _ in range(3)]
    for w in workers:
        await events.worked_example(w, through="2024-03")
        await approved(client, mint, w, policy)
    results = await asyncio.gather(*(client.post("/v1/disbursements", json={"policy": policy, "month": "2024-03"},
                                                 headers=admin) for _ in range(50)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 49 + [201], codes
    assert len({r.json()["id"] for r in results}) == 1
    lines = await all_lines(client, admin, results[0].json()["id"])
    assert len(lines) == 3 * 4  # 2023-12 .. 2024-03 for each, never doubled
    assert all(r.json()["line_count"] == 12 for r in results)
    seen, cursor, pages = [], None, 0
    while True:  # cursor pagination: pages of 5 give every line once
        response = await client.get(f"/v1/disbursements/{results[0].json()['id']}/lines",
                                    params={"limit": 5, **({"cursor": cursor} if cursor else {})}, headers=admin)
        seen += [line["id"] for line in response.json()["items"]]
        pages += 1
        if not (cursor := response.json()["next_cursor"]):
            break
    assert pages == 3 and sorted(seen) == sorted(line["id"] for line in lines) and len(set(seen)) == 12
    assert_problem(await client.get(f"/v1/disbursements/{results[0].json()['id']}/lines",
                                    params={"cursor": "garbage"}, headers=admin), 422, field="cursor")


async def test_the_36th_month_is_the_last_and_a_late_month_is_paid_as_arrears(client, events, mint, admin):
    policy = await new_policy(client)
    worker, late = uuid.uuid4(), uuid.uuid4()
    await events.worked_example(worker, through="2027-03")
    # the late worker's 2023-05 arrives only after the first batch: until then the run restarts in 2023-06
    await events.deliver(*events.months(late, "2023-01", "2024-08", skip={"2023-05"}),
                         events.registration(late, date(2023, 1, 5)),
                         events.certificate(late, "assistant", date(2023, 1, 5)))
    await approved(client, mint, worker, policy)
    await approved(client, mint, late, policy)
    first = await batch(client, admin, policy, "2024-06")
    lines = await all_lines(client, admin, first["id"])
    assert [m for m, _, _ in by_worker(lines, late)] == ["2024-05", "2024-06"]
    await events.deliver(events.month(late, "2023-05"))
    second = await batch(client, admin, policy, "2024-07")
    late_months = [m for m, _, _ in by_worker(await all_lines(client, admin, second["id"]), late)]
    assert late_months == ["2023-12", "2024-01", "2024-02", "2024-03", "2024-04", "2024-07"]
    final = await batch(client, admin, policy, "2027-03")
    months = by_worker(await all_lines(client, admin, final["id"]), worker)
    assert months[-1] == ("2026-11", "intermediate", 50000)  # the 36th payable month; 2026-12 is not paid
    async with client.app.state.engine.connect() as conn:
        paid = (await conn.execute(text("SELECT count(*), sum(amount_fen) FROM ledger_lines WHERE worker_id = :w "
                                        "AND policy_code = :p"), {"w": worker, "p": policy})).one()
    assert tuple(paid) == (36, 12 * 30000 + 24 * 50000)
    nothing = await batch(client, admin, policy, "2027-04")
    assert by_worker(await all_lines(client, admin, nothing["id"]), worker) == []


async def test_failed_line_is_paid_again_and_marks_are_final(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    await events.worked_example(worker, through="2024-03")
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2024-01")
    lines = await all_lines(client, admin, first["id"])
    ok, bad = lines
    url = f"/v1/disbursements/{first['id']}/lines"
    assert_problem(await client.post(f"{url}/{bad['id']}/mark", json={"status": "failed"}, headers=admin), 422)
    assert_problem(await client.post(f"{url}/{ok['id']}/mark", json={"status": "paid"},
                                     headers=mint.headers("auditor")), 403)
    assert (await client.post(f"{url}/{ok['id']}/mark", json={"status": "paid"}, headers=admin)).json()["status"] \
        == "paid"
    assert_problem(await client.post(f"{url}/{ok['id']}/mark", json={"status": "failed", "reason": "x"},
                                     headers=admin), 409)
    failed = await client.post(f"{url}/{bad['id']}/mark", json={"status": "failed", "reason": "closed account"},
                               headers=admin)
    assert failed.json()["status"] == "failed" and failed.json()["failure_reason"] == "closed account"
    assert_problem(await client.post(f"{url}/999999999/mark", json={"status": "paid"}, headers=admin), 404)
    second = await batch(client, admin, policy, "2024-02")
    assert by_worker(await all_lines(client, admin, second["id"]), worker) == [
        (bad["month"], "assistant", 30000), ("2024-02", "assistant", 30000)]


async def test_unique_index_refuses_a_second_line_for_a_month(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    await events.worked_example(worker, through="2023-12")
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2023-12")
    async with client.app.state.engine.connect() as conn:
        with pytest.raises(Exception, match="uq_ledger_lines_subsidy_month"):
            await conn.execute(text(
                "INSERT INTO ledger_lines (kind, worker_id, policy_code, disbursement_id, month, level, amount_fen) "
                "VALUES ('subsidy', :w, :p, :d, '2023-12', 'assistant', 30000)"),
                {"w": worker, "p": policy, "d": first["id"]})


async def test_revocation_after_payment_makes_recovery_items(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    certs = await events.worked_example(worker, through="2025-06")
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2025-03")
    for line in await all_lines(client, admin, first["id"]):
        if line["worker_id"] == str(worker):
            await client.post(f"/v1/disbursements/{first['id']}/lines/{line['id']}/mark", json={"status": "paid"},
                              headers=admin)
    # the intermediate certificate is revoked on 2025-02-10: 2025-02 and 2025-03 were paid 50000, due 30000
    revocation = events.revoke(worker, certs["intermediate"], date(2025, 2, 10))
    await events.deliver(revocation, revocation)
    recoveries = (await client.get("/v1/recoveries", headers=mint.headers("auditor"))).json()["items"]
    mine = sorted((r["month"], r["paid_fen"], r["due_fen"], r["amount_fen"]) for r in recoveries
                  if r["worker_id"] == str(worker))
    assert mine == [("2025-02", 50000, 30000, 20000), ("2025-03", 50000, 30000, 20000)]
    assert (await client.get("/v1/recoveries", headers=mint.headers("social_worker", worker_id=uuid.uuid4()))
            ).json()["items"] == []
    # future months are paid at the remaining certificate's rate
    second = await batch(client, admin, policy, "2025-04")
    assert by_worker(await all_lines(client, admin, second["id"]), worker) == [("2025-04", "assistant", 30000)]


async def test_revocation_before_payment_stops_future_months(client, events, mint, admin):
    policy = await new_policy(client)
    worker, cert = uuid.uuid4(), uuid.uuid4()
    await events.deliver(*events.months(worker, "2023-01", "2024-06"), events.registration(worker, date(2023, 1, 2)),
                         events.certificate(worker, "senior", date(2023, 1, 5), cert),
                         events.revoke(worker, cert, date(2024, 2, 1)))
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2024-06")
    assert by_worker(await all_lines(client, admin, first["id"]), worker) == [("2023-12", "senior", 100000),
                                                                             ("2024-01", "senior", 100000)]
    recoveries = (await client.get("/v1/recoveries", headers=admin)).json()["items"]
    assert not [r for r in recoveries if r["worker_id"] == str(worker)]


async def test_amendment_to_part_time_is_not_paid_and_redelivery_changes_nothing(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    await events.deliver(*events.months(worker, "2023-01", "2024-02"), events.registration(worker, date(2023, 1, 2)),
                         events.certificate(worker, "assistant", date(2023, 1, 5)))
    amendment = events.month(worker, "2024-02", full_time=False, revision=2)
    await events.deliver(amendment)
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2024-02")
    assert [m for m, _, _ in by_worker(await all_lines(client, admin, first["id"]), worker)] == ["2023-12", "2024-01"]
    await events.deliver(amendment, events.month(worker, "2024-02", full_time=True, revision=1))
    second = await batch(client, admin, policy, "2024-03")
    assert by_worker(await all_lines(client, admin, second["id"]), worker) == []


async def test_awards_reports_and_payments(client, events, mint, admin):
    policy = await new_policy(client)
    station_b = uuid.uuid4()
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await events.worked_example(a, through="2024-12")
    await events.worked_example(b, through="2024-12", station_id=station_b)
    await events.deliver(*events.months(c, "2023-01", "2024-12"), events.registration(c, date(2023, 1, 2)),
                         events.certificate(c, "senior", date(2023, 1, 5)))
    for w in (a, b, c):
        await approved(client, mint, w, policy)
    first = await batch(client, admin, policy, "2024-01")  # a, b: 2 x 30000; c: 2023-12, 2024-01 x 100000
    lines = await all_lines(client, admin, first["id"])
    c_line = [x for x in lines if x["worker_id"] == str(c) and x["month"] == "2024-01"][0]
    await client.post(f"/v1/disbursements/{first['id']}/lines/{c_line['id']}/mark",
                      json={"status": "failed", "reason": "wrong account"}, headers=admin)
    params = {"policy": policy, "from": "2023-01", "to": "2024-12"}
    summary = (await client.get("/v1/reports/summary", params=params, headers=mint.headers("auditor"))).json()
    assert (summary["people"], summary["total_fen"]) == (3, 4 * 30000 + 100000)
    assert summary["by_level"]["assistant"] == {"people": 2, "months": 4, "total_fen": 120000}
    assert summary["by_level"]["senior"]["total_fen"] == 100000
    assert summary["by_station"][str(station_b)]["total_fen"] == 60000
    assert summary["by_station"][str(STATION)]["total_fen"] == 160000
    scoped = (await client.get("/v1/reports/summary", params=params,
                               headers=mint.headers("station_manager", station_ids=[station_b]))).json()
    assert (scoped["people"], scoped["total_fen"]) == (1, 60000)
    assert_problem(await client.get("/v1/reports/summary", params={**params, "from": "2025-01"},
                                    headers=admin), 422, field="from")
    forecast = (await client.get("/v1/reports/forecast", params={"policy": policy, "months": 3}, headers=admin))
    assert forecast.status_code == 200, forecast.text
    body = forecast.json()
    assert [m["month"] for m in body["months"]] == ["2024-02", "2024-03", "2024-04"]
    # c's failed 2024-01 is arrears; every month: a and b at 30000, c at 100000
    assert body["arrears_fen"] == 100000 and body["months"][0]["total_fen"] == 160000
    # a one-off award in the same ledger
    award = {"worker_id": str(a), "title": "鄂托克旗英才", "amount_fen": 1000000, "awarded_on": "2024-06-01"}
    assert_problem(await client.post("/v1/awards", json=award, headers=mint.headers("station_manager")), 403)
    assert_problem(await client.post("/v1/awards", json={**award, "amount_fen": 0}, headers=admin), 422,
                   field="amount_fen")
    created = await client.post("/v1/awards", json=award, headers=admin)
    assert created.status_code == 201 and created.json()["kind"] == "award"
    mine = (await client.get(f"/v1/workers/{a}/payments", headers=mint.headers("social_worker", worker_id=a))).json()
    assert sorted((x["kind"], x["amount_fen"]) for x in mine["items"]) == [("award", 1000000), ("subsidy", 30000),
                                                                           ("subsidy", 30000)]
    theirs = await client.get(f"/v1/workers/{b}/payments", headers=mint.headers("social_worker", worker_id=a))
    assert_problem(theirs, 404)  # another worker's ledger does not exist for this caller
    # disbursement totals on /metrics, straight from the ledger
    metrics = (await client.get("/metrics")).text
    awards = [float(line.split()[-1]) for line in metrics.splitlines()
              if line.startswith('ledger_amount_fen{kind="award"')]
    assert sum(awards) >= 1000000, [line for line in metrics.splitlines() if line.startswith("ledger_")]


@pytest.fixture(scope="module")
async def registry(pg, mint):
    url = await fresh_database(pg, "registry")
    settings = RegistrySettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:1", auth_jwks_json=mint.jwks_json,
                                env="test", run_relay=False, run_consumer=False)
    app = create_registry_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_export_names_come_from_the_real_registry(client, events, mint, admin, registry):
    transport = httpx.ASGITransport(app=registry)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as reg:
        created = await reg.post("/v1/workers", json={"name": "秦建", "id_number": "150624197406182317"},
                                 headers=mint.headers("bureau_admin"))
    assert created.status_code == 201, created.text
    worker = uuid.UUID(created.json()["id"])
    policy = await new_policy(client)
    await events.worked_example(worker, through="2024-01")
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2024-01")

    async def token():
        return mint.token("service")

    client.app.state.registry = RegistryClient(base_url="http://registry", token_source=token, transport=transport)
    try:
        response = await client.get(f"/v1/disbursements/{first['id']}/export", params={"format": "csv"},
                                    headers=admin)
        assert response.status_code == 200, response.text
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["worker_id", "name", "id_number_masked"]
        assert rows[1][:6] == [str(worker), "秦建", "150624**********17", "2023-12", "assistant", "30000"]
        assert rows[-1][0] == "TOTAL" and rows[-1][5] == "60000" and rows[-1][6] == "600.00"
        response = await client.get(f"/v1/disbursements/{first['id']}/export", params={"format": "xlsx"},
                                    headers=admin)
        sheet = load_workbook(io.BytesIO(response.content)).active
        values = list(sheet.values)
        assert values[1][1] == "秦建" and values[-1][5] == 60000
        assert_problem(await client.get(f"/v1/disbursements/{first['id']}/export", params={"format": "pdf"},
                                        headers=admin), 422, field="format")
        client.app.state.registry = RegistryClient(base_url="http://127.0.0.1:1", token_source=token, timeout=1.0)
        assert_problem(await client.get(f"/v1/disbursements/{first['id']}/export", headers=admin), 503)
    finally:
        client.app.state.registry = None


async def test_a_version_that_paid_nothing_can_be_corrected(client, mint, admin):
    policy = await new_policy(client)
    url = f"/v1/policies/{policy}/versions/1"
    assert_problem(await client.patch(url, json={"rate_assistant_fen": 31000}, headers=mint.headers("auditor")), 403)
    assert_problem(await client.patch(url, json={"effective_to": "2020-01-01"}, headers=admin), 422,
                   field="effective_to")
    assert_problem(await client.patch(f"/v1/policies/{policy}/versions/9", json={}, headers=admin), 404)
    response = await client.patch(url, json={"rate_assistant_fen": 31000}, headers=admin)
    assert response.status_code == 200 and response.json()["rate_assistant_fen"] == 31000
