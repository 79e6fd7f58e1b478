"""Benchmark: a monthly disbursement batch with settlement for 100,000 approved workers with three years of history.

Standalone: starts its own embedded PostgreSQL, migrates a subsidy database, seeds it set-based (two years
paid and settled, a new confirmed month for everyone, and 10% of the workers with late facts: a revoked
certificate to recover, a late upgrade to top up; a few more never settled, with a break or a missing month),
then
  1. a per-worker ORM loop (load each worker's facts and ledger with ORM queries, run the same pure rules,
     settle every month, add the entries one by one), run on a random sample and extrapolated to every
     worker (said so in the output);
  2. the service's batch (one statement for facts and settled states, the fast path for unchanged workers,
     month-by-month settlement for the others, COPY; the rules computed while PostgreSQL reads and writes), timed;
  3. a check that both give the same entries for the sample.
Prints figures and ratios; never asserts timings. Usage: .venv/bin/python bench/disbursement.py [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.embedded import EmbeddedPostgres, free_port  # noqa: E402
from services.subsidy.eligibility import rules  # noqa: E402
from services.subsidy.facts.models import CertificateFact, RegistrationFact, ServiceMonthFact  # noqa: E402
from services.subsidy.ledger import settlement  # noqa: E402
from services.subsidy.ledger.models import LedgerLine  # noqa: E402
from services.subsidy.ledger.service import create_batch  # noqa: E402
from services.subsidy.policies.models import Policy  # noqa: E402
from services.subsidy.policies.service import terms_of  # noqa: E402
from shared.auth import Principal  # noqa: E402
from shared.db import make_engine, make_sessionmaker  # noqa: E402
from shared.migrate import upgrade  # noqa: E402

POLICY = "otog-talent-subsidy"
BATCH_MONTH = "2025-12"

SEED = [
    "CREATE TEMP TABLE w AS SELECT gen_random_uuid() AS id, n FROM generate_series(1, :workers) n",
    # assistant certificates in 2023-01; every fifth worker upgrades to intermediate in 2024-05
    "INSERT INTO certificates (certificate_id, worker_id, level, certificate_no, obtained_on) "
    "SELECT gen_random_uuid(), id, 'assistant', 'A' || n, DATE '2023-01-10' FROM w",
    "INSERT INTO certificates (certificate_id, worker_id, level, certificate_no, obtained_on) "
    "SELECT gen_random_uuid(), id, 'intermediate', 'I' || n, DATE '2024-05-10' FROM w WHERE n % 5 = 0",
    "INSERT INTO registrations (worker_id, registered_on, division_code, as_of) "
    "SELECT id, DATE '2023-01-05', '150624', now() FROM w",
    # three years of confirmed months, 2023-01 .. 2025-12; every 50th worker was part-time in 2024-06
    "INSERT INTO service_months (worker_id, month, station_id, full_time, service_hours, revision) "
    "SELECT id, to_char(DATE '2023-01-01' + make_interval(months => k), 'YYYY-MM'), "
    "('00000000-0000-4000-8000-00000000000' || (n % 6))::uuid, NOT (n % 50 = 0 AND k = 17), 168, 1 "
    "FROM w, generate_series(0, 35) k",
    # what the service-month handler keeps: runs of full-time months
    "INSERT INTO service_runs (worker_id, first_idx, last_idx) SELECT worker_id, min(month_idx), max(month_idx) "
    "FROM (SELECT worker_id, month_idx, month_idx - row_number() OVER (PARTITION BY worker_id ORDER BY month_idx) "
    "AS grp FROM service_months WHERE full_time) t GROUP BY worker_id, grp",
    "INSERT INTO applications (id, worker_id, policy_code, status, submitted_by, reviewed_by, decided_at) "
    "SELECT gen_random_uuid(), id, :policy, 'approved', 'seed', 'seed-reviewer', now() FROM w",
    "INSERT INTO disbursements (id, policy_code, month, created_by, line_count, total_fen) "
    "VALUES ('00000000-0000-4000-8000-0000000000aa', :policy, '2025-11', 'seed', 0, 0)",
    # two years paid, 2023-12 .. 2025-11 (a worker's part-time break and what follows left unpaid);
    # every 100th worker's 2025-10 is missing: it is paid as arrears
    "INSERT INTO ledger_lines (kind, worker_id, policy_code, policy_id, disbursement_id, month, level, amount_fen, "
    "status) SELECT 'subsidy', id, :policy, (SELECT id FROM policies WHERE code = :policy AND version = 1), "
    "'00000000-0000-4000-8000-0000000000aa', to_char(DATE '2023-12-01' + make_interval(months => k), 'YYYY-MM'), "
    "CASE WHEN n % 5 = 0 AND k >= 6 THEN 'intermediate' ELSE 'assistant' END, "
    "CASE WHEN n % 5 = 0 AND k >= 6 THEN 50000 ELSE 30000 END, 'paid' "
    "FROM w, generate_series(0, 23) k WHERE NOT (n % 50 = 0 AND k >= 6) AND NOT (n % 100 = 1 AND k = 22)",
    # 10% late facts: every 20th (from 3) had its assistant certificate revoked on 2025-06-10 (six paid months
    # to recover), every 20th (from 13) an intermediate certificate of 2024-01-10 recorded late (22 top-ups)
    "UPDATE certificates SET revoked_on = DATE '2025-06-10' FROM w WHERE certificates.worker_id = w.id "
    "AND w.n % 20 = 3 AND certificates.level = 'assistant'",
    "INSERT INTO certificates (certificate_id, worker_id, level, certificate_no, obtained_on) "
    "SELECT gen_random_uuid(), id, 'intermediate', 'L' || n, DATE '2024-01-10' FROM w WHERE n % 20 = 13",
    # what the handlers note: everyone's new month 2025-12, the late facts from their month
    "INSERT INTO fact_changes (worker_id, seq, from_idx) SELECT id, nextval('fact_change_seq'), CASE "
    "WHEN n % 20 = 3 THEN 2025 * 12 + 5 WHEN n % 20 = 13 THEN 2024 * 12 ELSE 2025 * 12 + 11 END FROM w",
    # settled through 2025-11 by the last batch (before the late facts), except the workers with a break or
    # a missing month, which were never settled by this code (they are settled month by month)
    "INSERT INTO settled_workers (policy_code, worker_id, seq, through_idx, due_count, versions_key) "
    "SELECT :policy, id, 0, 2025 * 12 + 10, 24, :key FROM w WHERE NOT (n % 50 = 0 OR n % 100 = 1)",
    "DROP TABLE w",
]

# What a batch wrote, independent of ids, times and the order of writing: two runs of different code on the same
# seeded data must give the same three digests.
DIGESTS = (
    "SELECT (SELECT md5(string_agg(concat_ws('|', worker_id, month, kind, amount_fen, status, level, policy_id, "
    "rule, reason, due_fen, station_id, award_id), ',' ORDER BY worker_id, month, kind, amount_fen, reason)) "
    "FROM ledger_lines WHERE disbursement_id = :d), "
    "(SELECT md5(string_agg(concat_ws('|', worker_id, new_months, new_months_fen, top_ups_fen, awards_fen, "
    "recovered_fen, gross_fen, receivable_before_fen, set_off_fen, net_to_pay_fen, receivable_after_fen, status), "
    "',' ORDER BY worker_id)) FROM disbursement_workers WHERE disbursement_id = :d), "
    "(SELECT md5(string_agg(concat_ws('|', policy_code, worker_id, seq, through_idx, due_count, versions_key), "
    "',' ORDER BY policy_code, worker_id)) FROM settled_workers)"
)


async def seed(engine, workers: int) -> None:
    async with make_sessionmaker(engine)() as session:
        key = settlement.versions_key([terms_of(p) for p in await session.scalars(
            select(Policy).where(Policy.code == POLICY))])
    async with engine.begin() as conn:
        for statement in SEED:
            await conn.execute(text(statement), {"workers": workers, "policy": POLICY, "key": key})
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


async def orm_loop(engine, sample: list) -> tuple[float, dict]:
    """The naive way: per worker, ORM queries for each kind of fact and the ledger, the rules month by month,
    a diff per month against the net, one ORM object per entry."""
    result: dict = {}
    async with make_sessionmaker(engine)() as session:
        start = time.perf_counter()
        versions = [terms_of(p) for p in await session.scalars(select(Policy).where(Policy.code == POLICY))]
        for worker_id in sample:
            certs = (await session.scalars(select(CertificateFact).where(CertificateFact.worker_id == worker_id))).all()
            registration = await session.get(RegistrationFact, worker_id)
            months = (await session.scalars(select(ServiceMonthFact).where(
                ServiceMonthFact.worker_id == worker_id, ServiceMonthFact.month <= BATCH_MONTH))).all()
            entries = (await session.scalars(select(LedgerLine).where(
                LedgerLine.worker_id == worker_id, LedgerLine.policy_code == POLICY))).all()
            facts = rules.facts_from_service(
                certificates=[rules.Certificate(c.level, c.obtained_on, c.revoked_on) for c in certs],
                registration=rules.Registration(registration.registered_on, registration.division_code)
                if registration else None,
                service={m.month: m.full_time for m in months})
            verdicts = rules.explain(facts, versions, from_month="2023-01", through=BATCH_MONTH)
            net: dict[str, int] = {}
            first: set[str] = set()
            for e in entries:
                if e.kind == "recovery":
                    net[e.month] = net.get(e.month, 0) - e.amount_fen
                elif e.status in ("pending", "paid"):
                    net[e.month] = net.get(e.month, 0) + e.amount_fen
                    first |= {e.month} if e.kind == "subsidy" else set()
            lines = []
            for v in verdicts:
                diff = (v.amount_fen if v.payable else 0) - net.get(v.month, 0)
                if diff:
                    kind = "recovery" if diff < 0 else "top_up" if v.month in first else "subsidy"
                    lines.append((v.month, kind, abs(diff)))
            for month, kind, amount in lines:
                session.add(LedgerLine(kind=kind, worker_id=worker_id, policy_code=POLICY, month=month,
                                       level="assistant", amount_fen=amount,
                                       status="recorded" if kind == "recovery" else "pending",
                                       disbursement_id="00000000-0000-4000-8000-0000000000aa"))
            await session.flush()
            result[worker_id] = sorted(lines)
        elapsed = time.perf_counter() - start
        await session.rollback()
    return elapsed, result


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): what the rest of the machine's load does not add."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bulk_batch(engine) -> tuple[float, object, float, float]:
    """The batch and its commit: wall time, and the CPU of this process and of its PostgreSQL backend."""
    principal = Principal(subject="bench", roles=frozenset({"bureau_admin"}))
    async with make_sessionmaker(engine)() as session:
        backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
        await session.commit()
        start, cpu, backend_cpu = time.perf_counter(), time.process_time(), cpu_seconds(backend)
        batch, created = await create_batch(session=session, principal=principal, policy_code=POLICY,
                                            month=BATCH_MONTH)
        await session.commit()
        elapsed = time.perf_counter() - start
        cpu, backend_cpu = time.process_time() - cpu, cpu_seconds(backend) - backend_cpu
    assert created
    return elapsed, batch, cpu, backend_cpu


async def seeded(pg: EmbeddedPostgres, workers: int, keep: Path | None) -> str:
    """The URL of a seeded database. With --keep, the cluster stays in that folder and the seeded database is
    kept as a template (`subsidy_seed`): each run copies it and migrates the copy to this code's head, so runs
    of different code compare on the same data and only the first one pays the minutes of seeding."""
    if keep is not None:
        ready = (await asyncio.to_thread(pg._run, "psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
                                         "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'subsidy_seed'"))
        if ready.stdout.strip() == "1":
            engine = make_engine(pg.url("postgres"))
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("DROP DATABASE IF EXISTS subsidy_bench"))
                await conn.execute(text("CREATE DATABASE subsidy_bench TEMPLATE subsidy_seed"))
            await engine.dispose()
            url = pg.url("subsidy_bench")
            await asyncio.to_thread(upgrade, "subsidy", url)
            engine = make_engine(url)
            async with engine.connect() as conn:
                counts = (await conn.execute(text(
                    "SELECT (SELECT count(*) FROM service_months), (SELECT count(*) FROM ledger_lines)"))).one()
                await conn.commit()
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
            await engine.dispose()
            print(f"copied the seeded template in {keep}: {counts[0]:,} service months, {counts[1]:,} paid ledger "
                  f"lines")
            return url
    name = "subsidy_seed" if keep is not None else "subsidy_bench"
    pg.create_databases(name)
    url = pg.url(name)
    await asyncio.to_thread(upgrade, "subsidy", url)
    engine = make_engine(url)
    t = time.perf_counter()
    await seed(engine, workers)
    async with engine.connect() as conn:
        counts = (await conn.execute(text(
            "SELECT (SELECT count(*) FROM service_months), (SELECT count(*) FROM ledger_lines)"))).one()
    await engine.dispose()
    print(f"seeded {workers:,} approved workers: {counts[0]:,} service months, {counts[1]:,} paid ledger "
          f"lines ({time.perf_counter() - t:.1f} s)")
    if keep is None:
        return url
    engine = make_engine(pg.url("postgres"))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("CHECKPOINT"))
    await engine.dispose()
    return await seeded(pg, workers, keep)


async def main(workers: int, sample_size: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        folder = keep or Path(tmp)
        password = None
        if keep is not None:
            folder.mkdir(parents=True, exist_ok=True)
            secret = folder / "password"
            if not secret.exists():
                secret.write_text(secrets.token_urlsafe(24))
                secret.chmod(0o600)
            password = secret.read_text().strip()
        pg = EmbeddedPostgres(folder / "data", free_port(), fast=True, password=password)
        pg.start()
        try:
            # 128 MB (the embedded default) does not hold a 100,000-worker ledger's indexes; any real server has more
            engine = make_engine(pg.url("postgres"))
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ALTER SYSTEM SET shared_buffers = '512MB'"))
            await engine.dispose()
            pg.stop()
            pg.start()
            print("PostgreSQL shared_buffers = 512MB (set by this script)")
            url = await seeded(pg, workers, keep)
            engine = make_engine(url)
            async with engine.connect() as conn:
                everyone = list((await conn.execute(text("SELECT worker_id FROM applications"))).scalars())
            sample = random.Random(7).sample(everyone, min(sample_size, len(everyone)))
            if sample:
                orm_s, orm_lines = await orm_loop(engine, sample)
                orm_total = orm_s * len(everyone) / len(sample)
                print(f"per-worker ORM loop: {orm_s:.2f} s for a sample of {len(sample):,} workers -> "
                      f"{orm_total:.1f} s extrapolated to {len(everyone):,} workers")
            load = load_average()
            bulk_s, batch, cpu, backend_cpu = await bulk_batch(engine)
            async with engine.connect() as conn:
                kinds = (await conn.execute(text(
                    "SELECT kind, count(*), sum(amount_fen) FROM ledger_lines WHERE disbursement_id = :d GROUP BY kind "
                    "ORDER BY kind"), {"d": batch["id"]})).all()
                settled = (await conn.execute(text(
                    "SELECT count(*) FILTER (WHERE recovered_fen > 0), sum(set_off_fen), sum(receivable_after_fen) "
                    "FROM disbursement_workers WHERE disbursement_id = :d"), {"d": batch["id"]})).one()
            print(f"batch with settlement {BATCH_MONTH}: {bulk_s:.2f} s for {len(everyone):,} workers "
                  f"(goal <= 3 s): " + ", ".join(f"{n:,} {k} ({fen / 100:,.0f} yuan)" for k, n, fen in kinds)
                  + f"; {settled[0]:,} workers with recoveries, {(settled[1] or 0) / 100:,.0f} yuan set off, "
                  f"{(settled[2] or 0) / 100:,.0f} yuan carried as receivables; "
                  f"{batch['net_to_pay_fen'] / 100:,.2f} yuan to transfer")
            print(f"  CPU: {cpu:.2f} s in this process (Python), {backend_cpu:.2f} s in its PostgreSQL backend; "
                  f"{os.cpu_count()} cpus, load average {load} before the batch")
            async with engine.connect() as conn:
                digests = (await conn.execute(text(DIGESTS), {"d": batch["id"]})).one()
            print(f"digests (entries, transfers, settled states): {' '.join(digests)}")
            if not sample:
                return
            print(f"speed-up: {orm_total / bulk_s:.1f}x (goal >= 20x; ORM figure extrapolated from the sample)")
            async with engine.connect() as conn:
                rows = (await conn.execute(text(
                    "SELECT worker_id, month, kind, amount_fen FROM ledger_lines WHERE disbursement_id = :d "
                    "AND worker_id = ANY(:w)"), {"d": batch["id"], "w": sample})).all()
            bulk_lines: dict = {w: [] for w in sample}
            for w, month, kind, amount in rows:
                bulk_lines[w].append((month, kind, amount))
            same = all(sorted(bulk_lines[w]) == orm_lines[w] for w in sample)
            print(f"same lines for the sample: {same} ({sum(len(v) for v in orm_lines.values())} lines)")
        finally:
            await engine.dispose()
            pg.stop(mode="fast" if keep else "immediate")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=500, help="workers for the ORM loop; 0 skips it")
    parser.add_argument("--keep", type=Path, help="a folder for the cluster and its seeded template, reused by "
                        "later runs with the same folder (the first run seeds it)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("subsidy.batch").setLevel(logging.INFO)  # where the batch's time goes
    asyncio.run(main(args.workers, args.sample, args.keep))
