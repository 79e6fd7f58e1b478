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
from sqlalchemy import event, text

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


async def test_the_last_month_under_the_cap_and_a_late_month_is_paid_as_arrears(client, events, mint, admin):
    policy = await new_policy(client, cap_months=24)
    worker, late = uuid.uuid4(), uuid.uuid4()
    await events.worked_example(worker, through="2026-07")
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
    final = await batch(client, admin, policy, "2026-06")
    months = by_worker(await all_lines(client, admin, final["id"]), worker)
    assert months[-1] == ("2025-11", "intermediate", 50000)  # the 24th due month; 2025-12 is not paid
    async with client.app.state.engine.connect() as conn:
        paid = (await conn.execute(text("SELECT count(*), sum(amount_fen) FROM ledger_lines WHERE worker_id = :w "
                                        "AND policy_code = :p"), {"w": worker, "p": policy})).one()
    assert tuple(paid) == (24, 12 * 30000 + 12 * 50000)
    nothing = await batch(client, admin, policy, "2026-07")
    assert by_worker(await all_lines(client, admin, nothing["id"]), worker) == []
    # a month that has not begun in Asia/Shanghai gets no batch (it could never be computed again)
    assert_problem(await client.post("/v1/disbursements", json={"policy": policy, "month": "2099-01"},
                                     headers=admin), 422, field="month")


async def test_a_mark_moves_the_workers_transfer_and_a_failed_month_is_due_again(client, events, mint, admin):
    policy = await new_policy(client)
    ok_worker, bad_worker = uuid.uuid4(), uuid.uuid4()
    for w in (ok_worker, bad_worker):
        await events.worked_example(w, through="2024-03")
        await approved(client, mint, w, policy)
    first = await batch(client, admin, policy, "2024-01")
    lines = await all_lines(client, admin, first["id"])
    ok = [x for x in lines if x["worker_id"] == str(ok_worker)]
    bad = [x for x in lines if x["worker_id"] == str(bad_worker)]
    url = f"/v1/disbursements/{first['id']}/lines"
    assert_problem(await client.post(f"{url}/{bad[0]['id']}/mark", json={"status": "failed"}, headers=admin), 422)
    assert_problem(await client.post(f"{url}/{ok[0]['id']}/mark", json={"status": "paid"},
                                     headers=mint.headers("auditor")), 403)
    assert (await client.post(f"{url}/{ok[0]['id']}/mark", json={"status": "paid"}, headers=admin)).json()["status"] \
        == "paid"
    # one transfer per worker and batch: the worker's other line is paid with it
    assert {x["status"] for x in await all_lines(client, admin, first["id"]) if x["worker_id"] == str(ok_worker)} \
        == {"paid"}
    assert_problem(await client.post(f"{url}/{ok[1]['id']}/mark", json={"status": "failed", "reason": "x"},
                                     headers=admin), 409)
    failed = await client.post(f"{url}/{bad[1]['id']}/mark", json={"status": "failed", "reason": "closed account"},
                               headers=admin)
    assert failed.json()["status"] == "failed" and failed.json()["failure_reason"] == "closed account"
    assert_problem(await client.post(f"{url}/999999999/mark", json={"status": "paid"}, headers=admin), 404)
    workers = (await client.get(f"/v1/disbursements/{first['id']}/workers", headers=admin)).json()["items"]
    assert {(w["worker_id"], w["status"], w["net_to_pay_fen"]) for w in workers} == {
        (str(ok_worker), "paid", 60000), (str(bad_worker), "failed", 60000)}
    got = (await client.get(f"/v1/disbursements/{first['id']}", headers=admin)).json()
    assert (got["line_count"], got["total_fen"], got["failed_fen"]) == (2, 60000, 60000)  # live figures
    second = await batch(client, admin, policy, "2024-02")
    # the failed months are due again as new lines (a new attempt), never twice for the paid worker
    assert by_worker(await all_lines(client, admin, second["id"]), bad_worker) == [
        ("2023-12", "assistant", 30000), ("2024-01", "assistant", 30000), ("2024-02", "assistant", 30000)]
    assert by_worker(await all_lines(client, admin, second["id"]), ok_worker) == [("2024-02", "assistant", 30000)]


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


async def test_revocation_after_payment_is_recovered_set_off_and_the_rest_carried(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    certs = await events.worked_example(worker, through="2025-06")
    await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2025-03")
    mine = [x for x in await all_lines(client, admin, first["id"]) if x["worker_id"] == str(worker)]
    await client.post(f"/v1/disbursements/{first['id']}/lines/{mine[0]['id']}/mark", json={"status": "paid"},
                      headers=admin)
    # the intermediate certificate is revoked on 2025-02-10: 2025-02 and 2025-03 were paid 50000, due 30000
    revocation = events.revoke(worker, certs["intermediate"], date(2025, 2, 10))
    await events.deliver(revocation, revocation)
    # handlers only record facts: nothing moves before the next batch
    assert [r for r in (await client.get("/v1/recoveries", headers=admin)).json()["items"]
            if r["worker_id"] == str(worker)] == []
    second = await batch(client, admin, policy, "2025-04")
    lines = await all_lines(client, admin, second["id"])
    assert sorted((x["kind"], x["month"], x["amount_fen"]) for x in lines if x["worker_id"] == str(worker)) == [
        ("recovery", "2025-02", 20000), ("recovery", "2025-03", 20000), ("subsidy", "2025-04", 30000)]
    recoveries = [r for r in (await client.get("/v1/recoveries", headers=mint.headers("auditor"))).json()["items"]
                  if r["worker_id"] == str(worker)]
    assert {(r["month"], r["due_fen"], r["rule"]) for r in recoveries} == {("2025-02", 30000, "payable"),
                                                                          ("2025-03", 30000, "payable")}
    assert all("due 30000 fen, net so far 50000 fen" in r["reason"] for r in recoveries)
    assert (await client.get("/v1/recoveries", headers=mint.headers("social_worker", worker_id=uuid.uuid4()))
            ).json()["items"] == []
    # set-off: 30000 paid against 40000 owed; nothing to transfer, 10000 carried
    summary = (await client.get(f"/v1/disbursements/{second['id']}/workers", headers=admin)).json()["items"]
    row = next(w for w in summary if w["worker_id"] == str(worker))
    assert (row["new_months"], row["gross_fen"], row["recovered_fen"], row["receivable_before_fen"],
            row["set_off_fen"], row["net_to_pay_fen"], row["receivable_after_fen"]) == (1, 30000, 40000, 40000,
                                                                                       30000, 0, 10000)
    owed = f"/v1/receivables/{worker}"
    assert (await client.get(owed, headers=admin)).json()["balance_fen"] == 10000
    # repaid in part, the rest written off by two different bureau_admins; never more than owed
    assert_problem(await client.post(f"{owed}/repayments", json={"amount_fen": 10001}, headers=admin), 422,
                   field="amount_fen")
    assert_problem(await client.post(f"{owed}/repayments", json={"amount_fen": 100},
                                     headers=mint.headers("auditor")), 403)
    repaid = await client.post(f"{owed}/repayments", json={"amount_fen": 4000, "note": "cash"}, headers=admin)
    assert repaid.status_code == 201, repaid.text
    proposer = mint.headers("bureau_admin", sub="proposer")
    proposed = await client.post(f"{owed}/write-offs", json={"amount_fen": 6000, "reason": "hardship"},
                                 headers=proposer)
    assert proposed.status_code == 201 and proposed.json()["status"] == "proposed"
    assert (await client.get(owed, headers=admin)).json()["balance_fen"] == 6000  # proposed is not approved
    assert_problem(await client.post(f"/v1/write-offs/{proposed.json()['id']}/approve", headers=proposer), 403)
    approved_off = await client.post(f"/v1/write-offs/{proposed.json()['id']}/approve", headers=admin)
    assert approved_off.json()["status"] == "approved"
    assert_problem(await client.post(f"/v1/write-offs/{proposed.json()['id']}/approve", headers=admin), 409)
    assert (await client.get(owed, headers=admin)).json() == {
        "worker_id": str(worker), "recovered_fen": 40000, "set_off_fen": 30000, "repaid_fen": 4000,
        "written_off_fen": 6000, "balance_fen": 0}
    listed = (await client.get("/v1/receivables", headers=admin)).json()["items"]
    assert any(r["worker_id"] == str(worker) and r["balance_fen"] == 0 for r in listed)
    assert_problem(await client.get(owed, headers=mint.headers("social_worker", worker_id=uuid.uuid4())), 404)
    # future months are paid at the remaining certificate's rate
    third = await batch(client, admin, policy, "2025-05")
    assert by_worker(await all_lines(client, admin, third["id"]), worker) == [("2025-05", "assistant", 30000)]


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


async def test_a_changed_worker_with_nothing_to_correct_gets_no_transfer_row(client, events, mint, admin):
    """Settled month by month to no new line while other workers' lines are written (then it is settled during
    their COPY): no transfer row either, as for any worker without a line."""
    policy = await new_policy(client)
    paid, changed = uuid.uuid4(), uuid.uuid4()
    await events.worked_example(paid)
    await events.worked_example(changed, through="2024-01")
    for worker in (paid, changed):
        await approved(client, mint, worker, policy)
    first = await batch(client, admin, policy, "2024-01")
    line = next(x for x in await all_lines(client, admin, first["id"]) if x["worker_id"] == str(changed))
    paid_line = await client.post(f"/v1/disbursements/{first['id']}/lines/{line['id']}/mark",
                                  json={"status": "paid"}, headers=admin)  # nothing pending: nothing to void
    assert paid_line.status_code == 200, paid_line.text
    await events.deliver(events.month(changed, "2023-12", revision=2))  # confirmed again, still full-time
    second = await batch(client, admin, policy, "2024-02")
    assert by_worker(await all_lines(client, admin, second["id"]), changed) == []
    workers = (await client.get(f"/v1/disbursements/{second['id']}/workers", headers=admin)).json()["items"]
    assert [w["worker_id"] for w in workers] == [str(paid)]


async def test_reports_count_net_paid_and_payments(client, events, mint, admin):
    policy = await new_policy(client)
    station_b = uuid.uuid4()
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await events.worked_example(a, through="2024-12")
    await events.worked_example(b, through="2024-12", station_id=station_b)
    await events.deliver(*events.months(c, "2023-01", "2024-12"), events.registration(c, date(2023, 1, 2)),
                         events.certificate(c, "senior", date(2023, 1, 5)))
    for w in (a, b, c):
        await approved(client, mint, w, policy)
    first = await batch(client, admin, policy, "2024-01")  # a, b: 2 x 30000; c: 2 x 100000
    lines = await all_lines(client, admin, first["id"])
    params = {"policy": policy, "from": "2023-01", "to": "2024-12"}
    pending = (await client.get("/v1/reports/summary", params=params, headers=admin)).json()
    assert (pending["people"], pending["total_fen"], pending["pending_fen"]) == (0, 0, 320000)  # nothing paid yet
    for w, status in ((a, "paid"), (b, "paid"), (c, "failed")):
        line = next(x for x in lines if x["worker_id"] == str(w))
        await client.post(f"/v1/disbursements/{first['id']}/lines/{line['id']}/mark",
                          json={"status": status, "reason": "wrong account"}, headers=admin)
    summary = (await client.get("/v1/reports/summary", params=params, headers=mint.headers("auditor"))).json()
    assert (summary["people"], summary["total_fen"], summary["pending_fen"]) == (2, 4 * 30000, 0)
    assert summary["by_level"]["assistant"] == {
        "people": 2, "months": 4, "total_fen": 120000, "paid_fen": 120000, "pending_fen": 0, "top_ups_fen": 0,
        "recovered_fen": 0, "net_fen": 120000}
    assert "senior" not in summary["by_level"]  # c's transfer failed: nothing received
    assert summary["by_station"][str(station_b)]["total_fen"] == 60000
    assert summary["by_station"][str(STATION)]["total_fen"] == 60000
    assert summary["by_month"]["2024-01"]["people"] == 2
    for group in ("by_level", "by_station", "by_month"):  # in key order, as a client reading the JSON expects
        assert list(summary[group]) == sorted(summary[group]), group
    scoped = (await client.get("/v1/reports/summary", params=params,
                               headers=mint.headers("station_manager", station_ids=[station_b]))).json()
    assert (scoped["people"], scoped["total_fen"]) == (1, 60000)
    assert_problem(await client.get("/v1/reports/summary", params={**params, "from": "2025-01"},
                                    headers=admin), 422, field="from")
    forecast = (await client.get("/v1/reports/forecast", params={"policy": policy, "months": 3}, headers=admin))
    assert forecast.status_code == 200, forecast.text
    body = forecast.json()
    assert [m["month"] for m in body["months"]] == ["2024-02", "2024-03", "2024-04"]
    # c's failed months are arrears; every month: a and b at 30000, c at 100000
    assert body["arrears_fen"] == 200000 and body["months"][0]["total_fen"] == 160000
    mine = (await client.get(f"/v1/workers/{a}/payments", headers=mint.headers("social_worker", worker_id=a))).json()
    assert sorted((x["kind"], x["amount_fen"], x["status"]) for x in mine["items"]) == [
        ("subsidy", 30000, "paid"), ("subsidy", 30000, "paid")]
    theirs = await client.get(f"/v1/workers/{b}/payments", headers=mint.headers("social_worker", worker_id=a))
    assert_problem(theirs, 404)  # another worker's ledger does not exist for this caller
    # disbursement totals on /metrics, straight from the ledger
    metrics = (await client.get("/metrics")).text
    paid = [float(line.split()[-1]) for line in metrics.splitlines()
            if line.startswith('ledger_amount_fen{kind="subsidy",status="paid"}')]
    assert sum(paid) >= 120000, [line for line in metrics.splitlines() if line.startswith("ledger_")]


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


async def test_awards_need_a_real_worker_a_type_two_admins_and_a_batch(client, events, mint, admin, registry):
    transport = httpx.ASGITransport(app=registry)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as reg:
        created = await reg.post("/v1/workers", json={"name": "王芳", "id_number": "150624198803154525"},
                                 headers=mint.headers("bureau_admin"))
    assert created.status_code == 201, created.text
    worker = created.json()["id"]

    async def token():
        return mint.token("service")

    recorder = mint.headers("bureau_admin", sub="award-recorder")
    award = {"worker_id": worker, "award_type": "otog-talent", "awarded_on": "2026-06-01"}
    assert_problem(await client.post("/v1/awards", json=award, headers=recorder), 503)  # no registry: no check
    client.app.state.registry = RegistryClient(base_url="http://registry", token_source=token, transport=transport)
    try:
        assert_problem(await client.post("/v1/awards", json=award, headers=mint.headers("station_manager")), 403)
        assert_problem(await client.post("/v1/awards", json={**award, "worker_id": str(uuid.uuid4())},
                                         headers=recorder), 422, field="worker_id")
        assert_problem(await client.post("/v1/awards", json={**award, "amount_fen": 100_000_000}, headers=recorder),
                       422, field="amount_fen")  # the amount is the award type's, never the caller's
        assert_problem(await client.post("/v1/awards", json={**award, "awarded_on": 0}, headers=recorder), 422,
                       field="awarded_on")
        assert_problem(await client.post("/v1/awards", json={**award, "awarded_on": "1970-01-01"},
                                         headers=recorder), 422, field="awarded_on")
        assert_problem(await client.post("/v1/awards", json={**award, "awarded_on": "2999-01-01"},
                                         headers=recorder), 422, field="awarded_on")
        assert_problem(await client.post("/v1/awards", json={**award, "award_type": "nope"}, headers=recorder), 422,
                       field="award_type")
        response = await client.post("/v1/awards", json=award, headers=recorder)
        assert response.status_code == 201, response.text
        recorded = response.json()
        assert (recorded["status"], recorded["amount_fen"], recorded["title"]) == ("recorded", 1_000_000, "鄂托克英才")
    finally:
        client.app.state.registry = None
    url = f"/v1/awards/{recorded['id']}"
    assert_problem(await client.post(f"{url}/approve", headers=recorder), 403)  # not by the one who recorded it
    policy = await new_policy(client)
    before = await batch(client, admin, policy, "2024-01")
    assert [x for x in await all_lines(client, admin, before["id"]) if x["worker_id"] == worker] == []  # not approved
    assert (await client.post(f"{url}/approve", headers=admin)).json()["status"] == "approved"
    assert_problem(await client.post(f"{url}/approve", headers=admin), 409)
    assert (await client.get(f"/v1/workers/{worker}/payments", headers=admin)).json()["items"] == []  # not paid yet
    paying = await batch(client, admin, policy, "2024-02")
    lines = [x for x in await all_lines(client, admin, paying["id"]) if x["worker_id"] == worker]
    assert [(x["kind"], x["amount_fen"], x["status"], x["award_id"]) for x in lines] == [
        ("award", 1_000_000, "pending", recorded["id"])]
    later = await batch(client, admin, policy, "2024-03")  # in one batch only
    assert [x for x in await all_lines(client, admin, later["id"]) if x["worker_id"] == worker] == []
    exported = await client.get(f"/v1/disbursements/{paying['id']}/export", params={"format": "csv"},
                                headers=admin)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert any(r[0] == worker and r[5] == "1000000" and r[8] == "award" for r in rows)


async def test_a_page_of_lines_or_transfers_reads_the_page_not_the_batch(client, events, mint, admin):
    """The visibility check of a batch's lists is a look-up by key, not the batch's figures (an aggregate over
    every line of a 100,000-worker batch, for each page)."""
    policy = await new_policy(client)
    worker = uuid.uuid4()
    await events.worked_example(worker, through="2024-03")
    await approved(client, mint, worker, policy)
    created = await batch(client, admin, policy, "2024-03")
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = client.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for path, rows in (("lines", 2), ("workers", 1)):
            statements.clear()
            page = await client.get(f"/v1/disbursements/{created['id']}/{path}", params={"limit": 2}, headers=admin)
            assert page.status_code == 200 and len(page.json()["items"]) == rows, page.text
            assert len(statements) == 2 and not any("FILTER" in s for s in statements), statements
            assert_problem(await client.get(f"/v1/disbursements/{uuid.uuid4()}/{path}", headers=admin), 404)
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_the_list_of_batches_pages_filters_and_says_where_each_is(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    await events.worked_example(worker)
    await approved(client, mint, worker, policy)
    january = await batch(client, admin, policy, "2024-01")
    february = await batch(client, admin, policy, "2024-02")
    assert (await client.put(f"/v1/policies/{policy}/payment-terms", json={"notice_working_days": 0},
                             headers=admin)).status_code == 200
    client.app.state.today = lambda: date(2026, 11, 30)
    try:
        assert (await client.post(f"/v1/disbursements/{february['id']}/publish", headers=admin)).status_code == 200
    finally:
        client.app.state.today = None

    async def listed(headers, **params) -> list[dict]:
        items, cursor = [], None
        while True:
            query = {"policy": policy, "limit": 1, **params, **({"cursor": cursor} if cursor else {})}
            page = await client.get("/v1/disbursements", headers=headers, params=query)
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return items

    mine = await listed(admin)  # one batch a page: the cursor walks them, oldest first
    assert [(b["id"], b["month"], b["status"]) for b in mine] == [
        (january["id"], "2024-01", "draft"), (february["id"], "2024-02", "on_notice")]
    assert (mine[0]["line_count"], mine[0]["total_fen"], mine[0]["policy"]) == (2, 60000, policy)
    assert [b["id"] for b in await listed(admin, month="2024-02")] == [february["id"]]
    # whoever may open a batch sees it listed; a social worker opens none (404 by id) and lists none
    for role in ("auditor", "station_manager"):
        assert [b["id"] for b in await listed(mint.headers(role, station_ids=[STATION]))] == [
            january["id"], february["id"]]
    assert await listed(mint.headers("social_worker", worker_id=worker)) == []
    unfiltered = await client.get("/v1/disbursements", headers=admin, params={"limit": 500})
    assert {january["id"], february["id"]} <= {b["id"] for b in unfiltered.json()["items"]}
    assert_problem(await client.get("/v1/disbursements", headers=admin, params={"month": "2024-13"}), 422,
                   field="month")
    assert_problem(await client.get("/v1/disbursements", headers=admin, params={"cursor": "nonsense"}), 422,
                   field="cursor")
    assert_problem(await client.get("/v1/disbursements", headers=mint.headers("hr_system")), 403)
