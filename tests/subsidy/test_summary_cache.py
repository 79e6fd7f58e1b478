"""The report summary: cached per ledger version for the bureau (issue 18), the station kept on each ledger line."""

from __future__ import annotations

import json
import uuid
from datetime import date

from sqlalchemy import text

from services.subsidy.reports import service as reports
from services.subsidy.reports.cache import SummaryCache
from shared.auth import Principal, Role
from tests.subsidy.conftest import STATION, all_lines, approved, new_policy
from tests.subsidy.test_disbursements import batch
from tests.support import eventually

FROM, TO = "2023-01", "2025-12"


async def fresh(client, policy: str) -> dict:
    """The summary computed now, without the cache, as the API would render it."""
    async with client.app.state.engine.connect() as conn:
        return json.loads(json.dumps(await reports.figures(conn, reports.EVERYONE, policy, FROM, TO)))


async def cached(client, headers, policy: str) -> dict:
    response = await client.get("/v1/reports/summary", params={"policy": policy, "from": FROM, "to": TO},
                                headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_kind_of_ledger_write_moves_the_version(client):
    async with client.app.state.engine.begin() as conn:
        before = await conn.scalar(text("SELECT version FROM ledger_version"))
        for table in ("ledger_lines", "disbursement_workers", "receivable_repayments", "receivable_write_offs"):
            await conn.execute(text(f"UPDATE {table} SET worker_id = worker_id WHERE false"))
        after = await conn.scalar(text("SELECT version FROM ledger_version"))
    assert after == before + 4  # once per statement, also one that changes no row


async def test_an_answer_is_kept_under_the_version_its_snapshot_saw(client):
    engine = client.app.state.engine
    key = ("any-policy", FROM, TO)

    async def compute(conn, _key) -> dict:
        async with engine.begin() as other:  # a ledger write commits while the answer is computed
            await other.execute(text("UPDATE ledger_lines SET marked_at = marked_at WHERE false"))
        return {"saw": await conn.scalar(text("SELECT version FROM ledger_version")),
                "snapshot": tuple((await conn.execute(text(
                    "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')"
                ))).one())}

    cache = SummaryCache(engine, compute)
    try:
        first = await cache.get(key)
        now = await cache.version()
        assert first == {"saw": now - 1, "snapshot": ("repeatable read", "on")}
        assert cache.kept_version(key) == now - 1  # not under the version of the write it did not see
        again = await cache.get(key)  # the version moved since: computed again
        assert (again["saw"], cache.computed) == (now, 2)
    finally:
        await cache.close()


async def test_the_cached_summary_follows_every_ledger_write(client, events, mint, admin):
    policy = await new_policy(client)
    worker, other = uuid.uuid4(), uuid.uuid4()
    station_b = uuid.uuid4()
    certs = await events.worked_example(worker, through="2025-06")
    await events.worked_example(other, through="2025-06", station_id=station_b)
    await approved(client, mint, worker, policy)
    cache = client.app.state.summary_cache

    async def same(headers=admin) -> dict:
        """The bureau's answer (from the cache) equals a fresh computation; returned for the figures."""
        got = await cached(client, headers, policy)
        assert got == await fresh(client, policy)
        return got

    empty = await same()
    assert (empty["people"], empty["pending_fen"], empty["receivable_fen"], empty["by_month"]) == (0, 0, 0, {})
    computed = cache.computed
    assert await same(mint.headers("auditor")) == empty and cache.computed == computed  # kept: no write since
    # a batch
    first = await batch(client, admin, policy, "2025-03")
    after_batch = await same()
    assert (after_batch["pending_fen"], after_batch["paid_fen"]) == (first["total_fen"], 0) and first["total_fen"] > 0
    # a line marked paid (the worker's transfer)
    mine = [x for x in await all_lines(client, admin, first["id"]) if x["worker_id"] == str(worker)]
    marked = await client.post(f"/v1/disbursements/{first['id']}/lines/{mine[0]['id']}/mark",
                               json={"status": "paid"}, headers=admin)
    assert marked.status_code == 200, marked.text
    paid = await same()
    assert (paid["people"], paid["paid_fen"], paid["pending_fen"], paid["months"]) == (
        1, first["total_fen"], 0, len(mine))
    # a recovery the next batch cannot set off in full: 40000 recovered, 30000 set off, 10000 owed
    await events.deliver(events.revoke(worker, certs["intermediate"], date(2025, 2, 10)))
    await batch(client, admin, policy, "2025-04")
    owed = await same()
    assert (owed["recovered_fen"], owed["receivable_fen"]) == (40000, 10000)
    # a repayment, then a write-off proposed and approved by another bureau_admin
    repaid = await client.post(f"/v1/receivables/{worker}/repayments", json={"amount_fen": 4000}, headers=admin)
    assert repaid.status_code == 201, repaid.text
    assert (await same())["receivable_fen"] == 6000
    proposer = mint.headers("bureau_admin", sub=f"proposer-{uuid.uuid4().hex[:6]}")
    proposed = await client.post(f"/v1/receivables/{worker}/write-offs",
                                 json={"amount_fen": 6000, "reason": "hardship"}, headers=proposer)
    assert proposed.status_code == 201, proposed.text
    assert (await same())["receivable_fen"] == 6000  # proposed is not approved
    decided = await client.post(f"/v1/write-offs/{proposed.json()['id']}/approve", headers=admin)
    assert decided.status_code == 200, decided.text
    assert (await same())["receivable_fen"] == 0
    # a failed transfer: the other worker's months, paid by the next batch, fail at the bank
    await approved(client, mint, other, policy)
    third = await batch(client, admin, policy, "2025-05")
    theirs = [x for x in await all_lines(client, admin, third["id"]) if x["worker_id"] == str(other)]
    before_failure = await same()
    assert before_failure["by_station"][str(station_b)]["pending_fen"] == sum(x["amount_fen"] for x in theirs)
    failed = await client.post(f"/v1/disbursements/{third['id']}/lines/{theirs[0]['id']}/mark",
                               json={"status": "failed", "reason": "closed account"}, headers=admin)
    assert failed.status_code == 200, failed.text
    after_failure = await same()
    assert (after_failure["by_station"][str(station_b)]["pending_fen"],  # a failed line counts nothing
            after_failure["by_station"][str(station_b)]["net_fen"]) == (0, 0)
    assert after_failure["pending_fen"] == before_failure["pending_fen"] - sum(x["amount_fen"] for x in theirs)
    # right after the bureau's answer was kept: a station manager gets the figures of their workers only
    manager = mint.headers("station_manager", station_ids=[STATION])
    scoped = await cached(client, manager, policy)
    assert (scoped["people"], scoped["total_fen"], list(scoped["by_station"])) == (1, after_failure["total_fen"],
                                                                                  [str(STATION)])
    nobody = await cached(client, mint.headers("station_manager", station_ids=[uuid.uuid4()]), policy)
    assert (nobody["people"], nobody["pending_fen"], nobody["by_station"]) == (0, 0, {})


async def test_lines_keep_the_station_they_were_paid_for(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    a, b, c = STATION, uuid.uuid4(), uuid.uuid4()
    await events.deliver(*events.months(worker, "2023-01", "2023-12", station_id=a),
                         *events.months(worker, "2024-01", "2024-06", station_id=b),
                         events.registration(worker, date(2023, 1, 2)),
                         events.certificate(worker, "assistant", date(2023, 1, 5)))
    await approved(client, mint, worker, policy)
    await batch(client, admin, policy, "2024-03")  # 2023-12 at a, 2024-01 to 2024-03 at b, assistant
    async with client.app.state.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT l.month, l.station_id, s.station_id FROM ledger_lines l JOIN service_months s "
            "ON s.worker_id = l.worker_id AND s.month = l.month WHERE l.worker_id = :w ORDER BY l.month"),
            {"w": worker})).all()
    assert [(m, line) for m, line, _ in rows] == [("2023-12", a), ("2024-01", b), ("2024-02", b), ("2024-03", b)]
    assert all(line == month for _, line, month in rows)
    # 2024-01 moves to station c; an intermediate certificate from 2023-06 makes every paid month worth 20000 more
    await events.deliver(events.month(worker, "2024-01", revision=2, station_id=c),
                         events.certificate(worker, "intermediate", date(2023, 6, 1)))
    second = await batch(client, admin, policy, "2024-04")
    assert sorted((x["kind"], x["month"], x["amount_fen"]) for x in await all_lines(client, admin, second["id"])) == [
        ("subsidy", "2024-04", 50000), ("top_up", "2023-12", 20000), ("top_up", "2024-01", 20000),
        ("top_up", "2024-02", 20000), ("top_up", "2024-03", 20000)]
    got = await cached(client, admin, policy)
    assert got == await fresh(client, policy)
    # what was paid for 2024-01 at b stays at b; the top-up paid after the amendment is c's
    assert {k: v["net_fen"] for k, v in got["by_station"].items()} == {
        str(a): 50000, str(b): 30000 + 2 * 50000 + 50000, str(c): 20000}
    # the worker-month is still one month, at its latest payment's level
    assert (got["net_fen"], got["by_level"]["intermediate"]["net_fen"], len(got["by_month"])) == (
        5 * 50000, 5 * 50000, 5)


async def test_the_warm_up_computes_what_was_asked_again_after_a_write(client, events, mint, admin):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    await events.worked_example(worker, through="2024-06")
    await approved(client, mint, worker, policy)
    cache = client.app.state.summary_cache
    key = (policy, FROM, TO)
    await cached(client, admin, policy)
    await batch(client, admin, policy, "2024-06")  # nobody asks after it
    version = await cache.version()
    await eventually(lambda: cache.kept_version(key) == version, timeout=10, interval=0.1)  # reads it every 2 s
    computed = cache.computed
    got = await cached(client, admin, policy)  # answered from what the warm-up kept
    assert cache.computed == computed and got == await fresh(client, policy) and got["pending_fen"] > 0


async def test_roles_combined_in_one_token_read_everything_only_with_bureau_admin_or_auditor(client, events, mint,
                                                                                              admin):
    """The cache is keyed by policy and range alone: only a caller who reads everything may be answered from it.
    A station manager's token that also names an HR system or a social worker is still computed for its own
    workers (the registry's readers of every worker include HR systems; payments' do not); an auditor's token
    that also names a station is the bureau's answer."""
    policy = await new_policy(client)
    worker, other = uuid.uuid4(), uuid.uuid4()
    station_b = uuid.uuid4()
    await events.worked_example(worker, through="2025-06")
    await events.worked_example(other, through="2025-06", station_id=station_b)
    for w in (worker, other):
        await approved(client, mint, w, policy)
    await batch(client, admin, policy, "2025-03")
    bureau = await cached(client, admin, policy)  # now kept
    assert set(bureau["by_station"]) == {str(STATION), str(station_b)}
    async with client.app.state.engine.connect() as conn:
        theirs = json.loads(json.dumps(await reports.figures(conn, Principal(
            subject="b", roles=frozenset({Role.STATION_MANAGER}), station_ids=frozenset({station_b})),
            policy, FROM, TO)))
    assert list(theirs["by_station"]) == [str(station_b)] and 0 < theirs["pending_fen"] < bureau["pending_fen"]
    for roles in (("station_manager", "hr_system"), ("station_manager", "social_worker")):
        got = await cached(client, mint.headers(*roles, station_ids=[station_b], worker_id=other), policy)
        assert got == theirs, roles
    assert await cached(client, mint.headers("auditor", "station_manager", station_ids=[station_b]), policy) == bureau
    for roles in (("hr_system", "social_worker"), ("hr_system", "service")):  # neither may read payments at all
        refused = await client.get("/v1/reports/summary", params={"policy": policy, "from": FROM, "to": TO},
                                   headers=mint.headers(*roles, worker_id=other))
        assert refused.status_code == 403 and "pending_fen" not in refused.text, roles
