"""Reports over the ledger: what was paid (summary) and what approved applications will cost (forecast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, func, literal_column, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.eligibility import rules
from services.subsidy.facts.repository import load_approved
from services.subsidy.ledger import receivables
from services.subsidy.ledger.models import Disbursement, LedgerLine
from services.subsidy.policies.service import terms_of, versions
from shared.auth import Principal, Role
from shared.clock import bureau_today
from shared.errors import Invalid

if TYPE_CHECKING:
    from services.subsidy.reports.cache import SummaryCache

# Per worker, month and station of the line in the range (readable by the caller): paid, pending, top-ups,
# recovered, and the latest live payment as its id (zero-padded to 19 digits, bigint's width) followed by its
# level, so that max() picks it (array_agg(... ORDER BY id) sorted every group again). The station is the line's
# own (written by the batch from the month's confirmed service month): no join to service_months per call, and
# money paid for a month stays with the station it was paid for when the month's station is amended later. A
# worker-month has one part unless its station changed between its payments.
PARTS = """
SELECT l.worker_id, l.month_idx AS m, l.station_id AS st,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind <> 'recovery' AND l.status = 'paid'), 0)::bigint AS paid,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind <> 'recovery' AND l.status = 'pending'), 0)::bigint AS pending,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind = 'top_up' AND l.status IN ('pending', 'paid')), 0)::bigint
         AS top_ups,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind = 'recovery'), 0)::bigint AS recovered,
       max((lpad(l.id::text, 19, '0') || l.level) COLLATE "C") FILTER (WHERE l.kind <> 'recovery'
                                                                     AND l.status IN ('pending', 'paid')) AS latest
FROM ledger_lines l
WHERE l.policy_code = :policy AND l.kind <> 'award' AND l.month_idx BETWEEN :lo AND :hi AND ({who})
GROUP BY l.worker_id, l.month_idx, l.station_id"""
SUMS = ("count(*) FILTER (WHERE paid - recovered > 0), sum(paid - recovered), sum(paid), sum(pending), "
        "sum(top_ups), sum(recovered), sum(paid + pending - recovered)")
NO_SUMS = ", ".join(["NULL"] * 7)
NET = "paid - recovered > 0"
# Every figure of the summary in one statement, as rows (group, level, month, station, people, sums): the total,
# by level and by month over the worker-months (GROUPING tells them apart: 3 the total, 1 a level, 2 a month), by
# station over the worker-months' parts at each station (5). The sums in one hashed pass (GROUPING SETS without
# a DISTINCT aggregate); `people` (the workers with a worker-month net paid in the group) in rows of their own
# over the distinct (worker, group) pairs; by month it is the months, one worker-month per worker. It was one
# pass joined to service_months with count(DISTINCT) in GROUPING SETS, which sorted the worker-months once per
# set: 9.2-10.5 s with 100,000 workers, this 7.2-8.4 s, the two run alternately on one database (load average
# 2.5-3; the README's dashboard section). The answer is kept per ledger version (reports/cache.py).
GROUPED = f"""
WITH parts AS MATERIALIZED ({{parts}}),
wm AS MATERIALIZED (
  SELECT worker_id, m, sum(paid)::bigint AS paid, sum(pending)::bigint AS pending, sum(top_ups)::bigint AS top_ups,
         sum(recovered)::bigint AS recovered, substr(max(latest), 20) AS level
  FROM parts GROUP BY worker_id, m)
SELECT GROUPING(level, m), level, m, NULL::uuid, NULL::bigint, {SUMS} FROM wm GROUP BY GROUPING SETS ((), (level), (m))
UNION ALL SELECT 5, NULL, NULL, st, NULL, {SUMS} FROM parts WHERE st IS NOT NULL GROUP BY st
UNION ALL SELECT 3, NULL, NULL, NULL, count(DISTINCT worker_id), {NO_SUMS} FROM wm WHERE {NET}
UNION ALL SELECT 1, level, NULL, NULL, count(*), {NO_SUMS}
          FROM (SELECT DISTINCT worker_id, level FROM wm WHERE {NET}) w GROUP BY level
UNION ALL SELECT 5, NULL, NULL, st, count(*), {NO_SUMS}
          FROM (SELECT DISTINCT worker_id, st FROM parts WHERE {NET} AND st IS NOT NULL) w GROUP BY st"""
GROUPS = {3: "total", 1: "by_level", 2: "by_month", 5: "by_station"}
FIGURES = ("people", "months", "total_fen", "paid_fen", "pending_fen", "top_ups_fen", "recovered_fen", "net_fen")
# Who the figures of a caller who reads everything are computed as (the cache computes them once for all such
# callers, also in the background with no caller).
EVERYONE = Principal(subject="report-summary", roles=frozenset({Role.AUDITOR}))


async def summary(*, session: AsyncSession, principal: Principal, policy_code: str, from_month: str,
                  to_month: str, cache: SummaryCache | None = None) -> dict:
    """Net paid in [from, to]: paid payments - recoveries (pending not counted), for the workers the caller
    reads. `people`/`total_fen`/`by_level` answer "how many people have received how much"; each figure is
    also given by month, level and station with paid, pending, top-ups, recovered and net (paid + pending -
    recovered), and the receivable (what those workers owe back, all months).

    A caller who reads everything (bureau, auditor) gets them from `cache` (computed once per ledger version);
    a caller with a scope (a station manager's workers are those with service months at the station) live."""
    await versions(session=session, code=policy_code)
    if rules.month_idx(from_month) > rules.month_idx(to_month):
        raise Invalid("from is after to", field="from")
    if cache is not None and principal.reads_everything:
        return await cache.get((policy_code, from_month, to_month))
    return await figures(session, principal, policy_code, from_month, to_month)


async def figures(conn: AsyncSession | AsyncConnection, principal: Principal, policy_code: str, from_month: str,
                  to_month: str) -> dict:
    """The summary's figures, read in `conn`'s transaction (the caller chooses the snapshot)."""
    lo, hi = rules.month_idx(from_month), rules.month_idx(to_month)
    # the caller's workers as a condition on the line itself ("true" for the bureau): literal SQL of our own
    # clause, nothing from the request in it
    who = readable_workers(principal, literal_column("l.worker_id"))
    who_sql = str(who.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    sql = GROUPED.format(parts=PARTS.format(who=who_sql))
    params = {"policy": policy_code, "lo": lo, "hi": hi}

    groups: dict = {"total": {None: dict.fromkeys(FIGURES, 0)}, "by_level": {}, "by_station": {}, "by_month": {}}
    for g, level, m, station, people, *sums in await conn.execute(text(sql), params):
        key = {1: level, 2: None if m is None else rules.month_str(m), 5: str(station)}.get(g)
        entry = groups[GROUPS[g]].setdefault(key, dict.fromkeys(FIGURES, 0))
        if people is not None:
            entry["people"] = int(people)
        else:
            entry.update(zip(FIGURES[1:], (int(v or 0) for v in sums), strict=True))
            if g == 2:
                entry["people"] = entry["months"]
    total = groups["total"][None]
    owed = receivables.balances(principal).subquery()
    receivable = await conn.scalar(select(func.coalesce(func.sum(owed.c.balance_fen), 0)).where(exists().where(
        LedgerLine.worker_id == owed.c.worker_id, LedgerLine.policy_code == policy_code,
        LedgerLine.month_idx.between(lo, hi))))
    return {"policy": policy_code, "from": from_month, "to": to_month, **total,
            "lines": total["months"], "receivable_fen": int(receivable or 0),
            # in key order, as the four queries this replaced gave them (a worker-month without a live payment has
            # no level, and a line without a station (no confirmed service month) is in the total only)
            "by_level": dict(sorted((k, v) for k, v in groups["by_level"].items() if k)),
            "by_station": dict(sorted((k, v) for k, v in groups["by_station"].items() if k)),
            "by_month": dict(sorted(groups["by_month"].items()))}


async def forecast(*, session: AsyncSession, principal: Principal, policy_code: str, months: int) -> dict:
    """Cost of the next `months` months for approved applications, assuming confirmed full-time service
    goes on unbroken from each worker's latest run and certificates and registrations stay as they are;
    `arrears_fen` is what is due and not yet in the ledger for earlier months, `recoveries_fen` what is in the
    ledger and no longer due."""
    principal.require(Role.BUREAU_ADMIN, Role.AUDITOR)
    terms = rules.Versions(terms_of(p) for p in await versions(session=session, code=policy_code))
    last_batch = await session.scalar(select(Disbursement.month).where(Disbursement.policy_code == policy_code)
                                      .order_by(Disbursement.month.desc()).limit(1))
    start = rules.month_idx(last_batch) + 1 if last_batch else rules.date_month(bureau_today())
    end = start + months - 1
    loaded = await load_approved(session, policy_code=policy_code, through=end)
    nets: dict = {}
    for w, m, net in await session.execute(text(
            "SELECT worker_id, month_idx, sum(CASE WHEN kind = 'recovery' THEN -amount_fen ELSE amount_fen END) "
            "FROM ledger_lines WHERE policy_code = :p AND kind <> 'award' "
            "AND (kind = 'recovery' OR status IN ('pending', 'paid')) GROUP BY worker_id, month_idx"),
            {"p": policy_code}):
        nets.setdefault(w, {})[m] = int(net)
    per_month = {m: {"month": rules.month_str(m), "people": 0, "total_fen": 0} for m in range(start, end + 1)}
    arrears = recoveries = 0
    for w, item in loaded.items():
        facts = item.facts
        runs = list(facts.runs)
        if runs and runs[-1][1] >= start - 2:  # the current run is assumed to go on
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        projected = facts._replace(runs=tuple(runs))
        due = {rules.month_idx(v.month): v.amount_fen for v in rules.due_months(projected, terms, through=end)}
        net = nets.get(w, {})
        for m in set(due) | set(net):
            diff = due.get(m, 0) - net.get(m, 0)
            if diff < 0:
                recoveries -= diff
            elif diff > 0 and m < start:
                arrears += diff
            elif diff > 0:
                per_month[m]["people"] += 1
                per_month[m]["total_fen"] += diff
    items = list(per_month.values())
    return {"policy": policy_code, "approved_workers": len(loaded), "months": items, "arrears_fen": arrears,
            "recoveries_fen": recoveries, "total_fen": sum(i["total_fen"] for i in items) + arrears,
            "assumption": "confirmed full-time service continues unbroken; certificates and registration unchanged"}
