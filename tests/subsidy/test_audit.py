"""The subsidy trail: money written by COPY and by conditional updates, decisions and exports are recorded;
facts applied by the event consumer are not (they are audited where they were made)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.subsidy.conftest import all_lines, approved, new_policy


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
    lines = [w for w in written if w["entity"] == "ledger_lines"]  # written by COPY: the triggers see it too
    assert [(w["action"], w["after"]["month"], w["after"]["amount_fen"], w["after"]["status"]) for w in lines] == [
        ("insert", "2023-12", 30000, "pending"), ("insert", "2024-01", 30000, "pending")]
    assert {str(w["worker_id"]) for w in lines} == {str(worker)}
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
