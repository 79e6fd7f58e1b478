"""Loading the facts the rules need, for one worker or in bulk for every approved application."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.eligibility.rules import Certificate, Facts, Registration

# One query for every approved worker of a policy: each kind of fact aggregated per worker, then joined, so
# 100,000 workers come back as 100,000 rows (the per-worker certificate, run and paid-month lists as arrays).
APPROVED_FACTS = """
WITH a AS (SELECT worker_id FROM applications WHERE policy_code = $1 AND status = 'approved'),
c AS (SELECT worker_id, array_agg(level) AS levels, array_agg(obtained_on) AS obtained,
             array_agg(revoked_on) AS revoked
      FROM certificates WHERE level IS NOT NULL GROUP BY worker_id),
r AS (SELECT worker_id, array_agg(first_idx ORDER BY first_idx) AS firsts,
             array_agg(least(last_idx, $2) ORDER BY first_idx) AS lasts
      FROM service_runs WHERE first_idx <= $2 GROUP BY worker_id),
p AS (SELECT worker_id, min(month_idx) AS lo, max(month_idx) AS hi,
             CASE WHEN count(*) <> max(month_idx) - min(month_idx) + 1 THEN array_agg(month_idx) END AS months
      FROM ledger_lines WHERE kind = 'subsidy' AND policy_code = $1 AND status <> 'failed' GROUP BY worker_id)
SELECT a.worker_id, c.levels, c.obtained, c.revoked, g.worker_id IS NOT NULL, g.registered_on, g.division_code,
       r.firsts, r.lasts, p.lo, p.hi, p.months
FROM a LEFT JOIN c USING (worker_id) LEFT JOIN registrations g USING (worker_id)
       LEFT JOIN r USING (worker_id) LEFT JOIN p USING (worker_id)"""
EMPTY: frozenset[int] = frozenset()


def _facts(workers, certs, regs, runs, paid, part_time=None) -> dict[uuid.UUID, Facts]:
    part_time = part_time or {}
    return {w: Facts(certificates=tuple(certs.get(w, ())), registration=regs.get(w),
                     runs=tuple(sorted(runs.get(w, ()))), part_time=part_time.get(w, frozenset()),
                     paid=paid.get(w, frozenset()))
            for w in workers}


async def load_approved_facts(session: AsyncSession, *, policy_code: str, through: int) -> dict[uuid.UUID, Facts]:
    """Facts of every worker with an approved application for the policy, in the session's transaction."""
    await session.execute(text("SET LOCAL work_mem = '128MB'"))  # the per-worker aggregates sort in memory
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    out: dict[uuid.UUID, Facts] = {}
    # Paid months come as (first, last) when unbroken, as a list otherwise; most workers share a few
    # (first, last) pairs, so they share one frozenset.
    spans: dict[tuple[int, int], frozenset[int]] = {}
    for w, levels, obtained, revoked, registered, reg_on, division, firsts, lasts, lo, hi, months in await raw.fetch(
            APPROVED_FACTS, policy_code, through):
        if months is not None:
            paid = frozenset(months)
        elif lo is None:
            paid = EMPTY
        else:
            paid = spans.get((lo, hi))
            if paid is None:
                paid = spans[(lo, hi)] = frozenset(range(lo, hi + 1))
        out[w] = Facts(
            certificates=tuple(map(Certificate, levels, obtained, revoked)) if levels else (),
            registration=Registration(reg_on, division) if registered else None,
            runs=tuple(zip(firsts, lasts, strict=True)) if firsts else (), paid=paid)
    return out


async def load_facts(session: AsyncSession, *, policy_code: str, through: int,
                     worker_id: uuid.UUID | None = None) -> dict[uuid.UUID, Facts]:
    """Facts of one worker (`worker_id`), or of every approved worker in the session's transaction."""
    params = {"policy": policy_code, "through": through, "worker_id": worker_id}
    one = "AND worker_id = :worker_id" if worker_id is not None else ""
    approved = "" if worker_id is not None else (
        "AND worker_id IN (SELECT worker_id FROM applications WHERE policy_code = :policy AND status = 'approved')")
    scope = f"{one} {approved}"

    async def rows(sql: str) -> list:
        return (await session.execute(text(sql), params)).all()

    certs: dict[uuid.UUID, list[Certificate]] = defaultdict(list)
    for w, level, obtained, revoked, cert_id in await rows(
            "SELECT worker_id, level, obtained_on, revoked_on, certificate_id FROM certificates "
            f"WHERE level IS NOT NULL {scope}"):
        certs[w].append(Certificate(level, obtained, revoked, cert_id))
    regs = {r[0]: Registration(r[1], r[2]) for r in await rows(
        f"SELECT worker_id, registered_on, division_code FROM registrations WHERE true {scope}")}
    runs: dict[uuid.UUID, list[tuple[int, int]]] = defaultdict(list)
    for w, first, last in await rows(
            f"SELECT worker_id, first_idx, least(last_idx, :through) FROM service_runs WHERE first_idx <= :through "
            f"{scope}"):
        runs[w].append((first, last))
    paid = {r[0]: frozenset(r[1]) for r in await rows(
        "SELECT worker_id, array_agg(month_idx) FROM ledger_lines WHERE kind = 'subsidy' AND policy_code = :policy "
        f"AND status <> 'failed' {scope} GROUP BY worker_id")}
    part_time: dict[uuid.UUID, frozenset[int]] = defaultdict(frozenset)
    for w, months in await rows(
            f"SELECT worker_id, array_agg(month_idx) FROM service_months WHERE NOT full_time {scope} "
            "GROUP BY worker_id"):
        part_time[w] = frozenset(months)
    if worker_id is not None:
        workers = {worker_id}
    else:
        workers = set((await session.execute(text(
            "SELECT worker_id FROM applications WHERE policy_code = :policy AND status = 'approved'"),
            params)).scalars())
    return _facts(workers, certs, regs, runs, paid, part_time)
