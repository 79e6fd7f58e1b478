"""The subsidy trail: money written by COPY and by conditional updates, decisions and exports are recorded;
facts applied by the event consumer are not (they are audited where they were made)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.subsidy.conftest import all_lines, approved, new_policy
from tests.support import audit_verdict
from tests.support import tamper as tamper_database


async def trail(client, where: str, **params) -> list[dict]:
    async with client.app.state.engine.connect() as conn:
        result = await conn.execute(text(f"SELECT * FROM audit_log WHERE {where} ORDER BY seq"), params)
        return [dict(r._mapping) for r in result]


async def test_money_decisions_and_exports_are_in_the_trail(client, events, mint):
    policy = await new_policy(client)
    worker = uuid.uuid4()
    before_facts = len(await trail(client, "true"))
    await events.worked_example(worker, through="2024-02")
    assert len(await trail(client, "true")) == before_facts  # consumer writes: not in this service's trail

    application = await approved(client, mint, worker, policy)
    decisions = await trail(client, "entity = 'applications' AND entity_id = :id", id=application["id"])
    assert [(d["action"], d["after"].get("status")) for d in decisions] == [("insert", "submitted"),
                                                                           ("update", "approved")]
    assert decisions[1]["before"]["status"] == "submitted" and decisions[1]["actor"].startswith("rev-")

    admin = {**mint.headers("bureau_admin", sub="admin-pay"), "X-Request-ID": "req-batch"}
    response = await client.post("/v1/disbursements", json={"policy": policy, "month": "2024-01"}, headers=admin)
    assert response.status_code == 201, response.text
    batch_id = response.json()["id"]
    written = await trail(client, "request_id = 'req-batch'")
    # Written by COPY: the triggers see it too, one trail row per statement naming the rows, with their digest.
    (lines,) = [w for w in written if w["entity"] == "ledger_lines"]
    ids = sorted(line["id"] for line in await all_lines(client, admin, batch_id))
    assert (lines["action"], lines["actor"], lines["after"]["rows"], lines["after"]["ids"]) == (
        "insert_rows", "admin-pay", 2, [[ids[0], ids[1]]])
    assert {"amount_fen", "month", "worker_id"} <= set(lines["after"]["columns"])
    (transfers,) = [w for w in written if w["entity"] == "disbursement_workers"]
    assert (transfers["action"], transfers["after"]["rows"]) == ("insert_rows", 1)
    totals = [w for w in written if w["entity"] == "disbursements" and w["action"] == "update"]
    assert totals[0]["after"] == {"line_count": 2, "total_fen": 60000}

    line = (await all_lines(client, admin, batch_id))[0]
    marked = await client.post(f"/v1/disbursements/{batch_id}/lines/{line['id']}/mark", json={"status": "paid"},
                               headers={**admin, "X-Request-ID": "req-mark"})
    assert marked.status_code == 200, marked.text
    marks = await trail(client, "request_id = 'req-mark'")
    (paid,) = [m for m in marks if m["entity"] == "ledger_lines" and m["entity_id"] == str(line["id"])]
    assert (paid["action"], paid["before"]["status"], paid["after"]["status"]) == ("update", "pending", "paid")
    assert {m["entity"] for m in marks} >= {"ledger_lines", "disbursement_workers"}

    exported = await client.get(f"/v1/disbursements/{batch_id}/export", params={"format": "csv"},
                                headers={**admin, "X-Request-ID": "req-export"})
    assert exported.status_code == 200, exported.text
    (export,) = await trail(client, "request_id = 'req-export'")
    assert (export["action"], export["entity_id"], export["actor"], export["after"]["format"]) == (
        "export", batch_id, "admin-pay", "csv")

    verdict = await client.get("/v1/audit/verify", headers=mint.headers("auditor"))
    assert verdict.json()["ok"] is True, verdict.json()


def _url(client) -> str:
    return client.app.state.engine.url.render_as_string(hide_password=False)


async def tamper(client, *statements: str) -> None:
    await tamper_database(_url(client), *statements)


async def verdicts(client, mint) -> tuple[dict, str]:
    return await audit_verdict(client, mint.headers("auditor"), service="subsidy", database_url=_url(client))


async def test_a_ledger_line_edited_or_deleted_after_the_batch_is_named(client, events, mint):
    """The batch's lines are in the trail as one row with their digest: verify reads the lines again."""
    policy = await new_policy(client)
    worker = uuid.uuid4()
    await events.worked_example(worker, through="2024-03")
    await approved(client, mint, worker, policy)
    admin = {**mint.headers("bureau_admin"), "X-Request-ID": "req-tamper-batch"}
    response = await client.post("/v1/disbursements", json={"policy": policy, "month": "2024-03"}, headers=admin)
    assert response.status_code == 201, response.text
    (recorded,) = await trail(client, "request_id = 'req-tamper-batch' AND entity = 'ledger_lines'")
    first, last = recorded["after"]["ids"][0]
    assert recorded["after"]["rows"] == 4 and last - first == 3
    assert (await verdicts(client, mint))[0]["ok"] is True

    await tamper(client, f"UPDATE ledger_lines SET amount_fen = 50000 WHERE id = {first + 1}")
    verdict, output = await verdicts(client, mint)
    assert verdict["ok"] is False and verdict["first_broken"]["seq"] == recorded["seq"], verdict
    assert "edited" in verdict["first_broken"]["reason"] and f"BROKEN at seq {recorded['seq']}" in output
    await tamper(client, f"UPDATE ledger_lines SET amount_fen = 30000 WHERE id = {first + 1}")
    assert (await verdicts(client, mint))[0]["ok"] is True  # put back as it was: intact again

    # A line marked paid changes only what the digest leaves out (the mark is captured row by row).
    marked = await client.post(f"/v1/disbursements/{response.json()['id']}/lines/{first}/mark",
                               json={"status": "paid"}, headers=admin)
    assert marked.status_code == 200, marked.text
    assert (await verdicts(client, mint))[0]["ok"] is True

    await tamper(client, f"DELETE FROM ledger_lines WHERE id = {last}")
    verdict, output = await verdicts(client, mint)
    assert verdict["ok"] is False and verdict["first_broken"]["seq"] == recorded["seq"], verdict
    assert "3 of the 4 ledger_lines rows" in verdict["first_broken"]["reason"], verdict
