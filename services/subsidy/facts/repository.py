"""The one fact loader: what the rules need, for one worker or in bulk for every approved application.

One statement reads the facts and, with them, each worker's fact-change sequence and settled state, so a
fact committed while a batch runs is either in the facts the batch used or leaves the worker's sequence
ahead of what the batch records as settled (the next batch then settles that worker again).
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.eligibility.rules import Certificate, Facts, Registration

# Each kind of fact aggregated per worker, then joined, so 100,000 workers come back as 100,000 rows (the
# per-worker certificate and run lists as arrays).
FACTS_SQL = """
WITH a AS ({who}),
c AS (SELECT worker_id, array_agg(level) AS levels, array_agg(obtained_on) AS obtained,
             array_agg(revoked_on) AS revoked, array_agg(certificate_id) AS ids
      FROM certificates WHERE level IS NOT NULL AND worker_id IN (SELECT worker_id FROM a) GROUP BY worker_id),
r AS (SELECT worker_id, array_agg(first_idx ORDER BY first_idx) AS firsts,
             array_agg(least(last_idx, $2) ORDER BY first_idx) AS lasts
      FROM service_runs WHERE first_idx <= $2 AND worker_id IN (SELECT worker_id FROM a) GROUP BY worker_id)
SELECT a.worker_id, c.levels, c.obtained, c.revoked, c.ids, g.worker_id IS NOT NULL, g.registered_on,
       g.division_code, r.firsts, r.lasts, f.seq, f.from_idx, s.seq, s.through_idx, s.due_count, s.versions_key,
       {part_time}
FROM a LEFT JOIN c USING (worker_id) LEFT JOIN registrations g USING (worker_id)
       LEFT JOIN r USING (worker_id) LEFT JOIN fact_changes f USING (worker_id)
       LEFT JOIN settled_workers s ON s.policy_code = $1 AND s.worker_id = a.worker_id"""
APPROVED = "SELECT worker_id FROM applications WHERE policy_code = $1 AND status = 'approved'"
ONE = "SELECT $3::uuid AS worker_id WHERE $1::text IS NOT NULL"
PART_TIME = ("(SELECT array_agg(month_idx) FROM service_months m WHERE m.worker_id = a.worker_id "
             "AND NOT m.full_time)")


class Settled(NamedTuple):
    seq: int | None
    through: int
    due_count: int
    versions_key: str


class Loaded(NamedTuple):
    """A worker's facts, the fact-change sequence and earliest changed month read with them, and the state the
    worker was last settled at for the policy (None: never, or to be settled month by month again)."""

    facts: Facts
    seq: int | None
    changed_from: int | None
    settled: Settled | None


async def _load(session: AsyncSession, sql: str, *args) -> dict[uuid.UUID, Loaded]:
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    out: dict[uuid.UUID, Loaded] = {}
    for (w, levels, obtained, revoked, ids, registered, reg_on, division, firsts, lasts, seq, from_idx, s_seq,
         s_through, s_count, s_key, part_time) in await raw.fetch(sql, *args):
        facts = Facts(
            certificates=tuple(map(Certificate, levels, obtained, revoked, ids)) if levels else (),
            registration=Registration(reg_on, division) if registered else None,
            runs=tuple(zip(firsts, lasts, strict=True)) if firsts else (),
            part_time=frozenset(part_time) if part_time else frozenset())
        settled = Settled(s_seq, s_through, s_count, s_key) if s_through is not None else None
        out[w] = Loaded(facts, seq, from_idx, settled)
    return out


async def load_approved(session: AsyncSession, *, policy_code: str, through: int) -> dict[uuid.UUID, Loaded]:
    """Every worker with an approved application for the policy, in the session's transaction."""
    await session.execute(text("SET LOCAL work_mem = '128MB'"))  # the per-worker aggregates sort in memory
    sql = FACTS_SQL.format(who=APPROVED, part_time="NULL::int[]")
    return await _load(session, sql, policy_code, through)


async def load_worker(session: AsyncSession, *, policy_code: str, through: int, worker_id: uuid.UUID) -> Loaded:
    """One worker (approved or not), with the part-time months the explanations name."""
    sql = FACTS_SQL.format(who=ONE, part_time=PART_TIME)
    return (await _load(session, sql, policy_code, through, worker_id))[worker_id]
