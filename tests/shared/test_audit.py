"""The audit trail's database side in every service: every business table is captured, purging keeps the
chain verifiable and never removes young rows."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from shared import audit
from shared.audit.schema import GENESIS, RENDERED
from shared.audit.verify import purge, row_hash, verify_chain
from shared.db import make_sessionmaker
from tests.support import asyncpg_dsn, fresh_database

NOT_BUSINESS = {"alembic_version", "outbox", "inbox", "dead_letters", "audit_log", "audit_anchor"}
# Tables deliberately without a capture trigger, and why (the README's audit section says the same).
NOT_CAPTURED = {
    "registry": {"import_requests"},  # the idempotency cache of import answers; the rows imported are captured
    # facts written only by the event consumer: audited in the service that emitted the event; the inbox
    # records the event id, topic, partition and offset of every change. settled_workers: the batch's
    # bookkeeping; the money it settles is captured in ledger_lines and disbursement_workers. ledger_version: a
    # counter of writes to the ledger (the report summary's cache), bumped by those captured writes.
    "subsidy": {"certificates", "registrations", "service_months", "service_runs", "fact_changes",
                "settled_workers", "ledger_version"},
    "projects": set(),
    "gateway": set(),  # users, clients, signing keys, sessions and sign-in throttling: all captured
}


@pytest.mark.parametrize("service", sorted(NOT_CAPTURED))
async def test_every_business_table_has_the_capture_trigger(pg, service):
    conn = await asyncpg.connect(asyncpg_dsn(await fresh_database(pg, service)))
    try:
        tables = {r["relname"]: r["captured"] for r in await conn.fetch("""
            SELECT c.relname, (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid
                               AND t.tgname LIKE 'audit_capture_%') = 3 AS captured
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')""")}
    finally:
        await conn.close()
    uncaptured = {name for name, captured in tables.items() if not captured} - NOT_BUSINESS
    assert uncaptured == NOT_CAPTURED[service]


async def test_purge_removes_only_old_rows_and_re_anchors_the_chain(pg):
    url = await fresh_database(pg, "projects")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for n in range(4):  # four rows, written outside any request: recorded as the database user
            await conn.execute("INSERT INTO calls (id, year, title, total_budget_fen, categories, window_opens, "
                               "window_closes, division_code, created_by) VALUES (gen_random_uuid(), 2026, $1, "
                               "100000, '{}', '2026-01-01', '2026-02-01', '150624', 'x')", f"call {n}")
        assert await conn.fetchval("SELECT actor FROM audit_log WHERE seq = 1") == "db:postgres"
        # Make rows 1 and 2 older than the retention period, re-hashing the chain as if it had been so.
        one_row = f"SELECT {', '.join(e.format(r='a') for e in RENDERED)} FROM audit_log a WHERE a.seq = $1"
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE audit_log SET at = at - interval '200 days' WHERE seq <= 2")
            prev = GENESIS
            for seq in range(1, 5):
                await conn.execute("UPDATE audit_log SET prev_hash = $1 WHERE seq = $2", prev, seq)
                prev = row_hash(list(await conn.fetchrow(one_row, seq)))
                await conn.execute("UPDATE audit_log SET hash = $1 WHERE seq = $2", prev, seq)
        third_prev = await conn.fetchval("SELECT prev_hash FROM audit_log WHERE seq = 3")

        engine = create_async_engine(url)
        try:
            sessions = make_sessionmaker(engine)
            async with sessions() as session:
                assert (await verify_chain(session)).ok
            with audit.acting_as("cli:operator"):
                async with sessions() as session, session.begin():
                    assert await purge(session) == 2
            async with sessions() as session:
                verdict = await verify_chain(session)
            assert verdict.ok and verdict.rows == 3 and verdict.head_seq == 5, verdict
        finally:
            await engine.dispose()
        assert tuple(await conn.fetchrow("SELECT seq, hash FROM audit_anchor")) == (2, third_prev)
        purge_row = await conn.fetchrow("SELECT actor, action, before FROM audit_log WHERE seq = 5")
        assert (purge_row["actor"], purge_row["action"]) == ("cli:operator", "purge")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_log WHERE seq = 3")
    finally:
        await conn.close()
