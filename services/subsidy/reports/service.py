"""Reports over the ledger: what was paid (summary) and what approved applications will cost (forecast)."""

from __future__ import annotations

from sqlalchemy import exists, func, literal_column, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.eligibility import rules
from services.subsidy.facts.repository import load_approved
from services.subsidy.ledger import receivables
from services.subsidy.ledger.models import Disbursement, LedgerLine
from services.subsidy.policies.service import terms_of, versions
from shared.auth import Principal, Role
from shared.clock import bureau_today
from shared.errors import Invalid

# Per worker-month in the range (readable by the caller): paid, pending, top-ups, recovered, net paid, the level
# of the latest live payment and the station of the confirmed service month.
WORKER_MONTHS = """
SELECT l.worker_id, l.month,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind <> 'recovery' AND l.status = 'paid'), 0) AS paid,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind <> 'recovery' AND l.status = 'pending'), 0) AS pending,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind = 'top_up' AND l.status IN ('pending', 'paid')), 0)
         AS top_ups,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind = 'recovery'), 0) AS recovered,
       (array_agg(l.level ORDER BY l.id DESC) FILTER (WHERE l.kind <> 'recovery'
                                                    AND l.status IN ('pending', 'paid')))[1] AS level,
       min(s.station_id::text) AS station
FROM ledger_lines l LEFT JOIN service_months s ON s.worker_id = l.worker_id AND s.month = l.month
WHERE l.policy_code = :policy AND l.kind <> 'award' AND l.month_idx BETWEEN :lo AND :hi AND ({who})
GROUP BY l.worker_id, l.month"""
# Every figure of the summary in one pass over the worker-months: the total, by level, by station, by month
# (GROUPING tells the rows apart: 7 the total, 3 a level, 5 a station, 6 a month). It was four passes, each
# reading the worker-months again, and 7 s with 5,000 workers (bench/dashboard.py).
GROUPED = """
WITH wm AS MATERIALIZED ({worker_months})
SELECT GROUPING(level, station, month), coalesce(level, station, month),
       count(DISTINCT worker_id) FILTER (WHERE paid - recovered > 0),
       count(*) FILTER (WHERE paid - recovered > 0), sum(paid - recovered), sum(paid), sum(pending), sum(top_ups),
       sum(recovered), sum(paid + pending - recovered)
FROM wm GROUP BY GROUPING SETS ((), (level), (station), (month))"""
GROUPS = {7: "total", 3: "by_level", 5: "by_station", 6: "by_month"}
FIGURES = ("people", "months", "total_fen", "paid_fen", "pending_fen", "top_ups_fen", "recovered_fen", "net_fen")


async def summary(*, session: AsyncSession, principal: Principal, policy_code: str, from_month: str,
                  to_month: str) -> dict:
    """Net paid in [from, to]: paid payments - recoveries (pending not counted), for the workers the caller
    reads. `people`/`total_fen`/`by_level` answer "how many people have received how much"; each figure is
    also given by month, level and station with paid, pending, top-ups, recovered and net (paid + pending -
    recovered), and the receivable (what those workers owe back, all months)."""
    await versions(session=session, code=policy_code)
    lo, hi = rules.month_idx(from_month), rules.month_idx(to_month)
    if lo > hi:
        raise Invalid("from is after to", field="from")
    # the caller's workers as a condition on the line itself ("true" for the bureau): literal SQL of our own
    # clause, nothing from the request in it
    who = readable_workers(principal, literal_column("l.worker_id"))
    who_sql = str(who.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    sql = GROUPED.format(worker_months=WORKER_MONTHS.format(who=who_sql))
    params = {"policy": policy_code, "lo": lo, "hi": hi}

    def figures(row) -> dict:
        return dict(zip(FIGURES, (int(v or 0) for v in row[2:]), strict=True))

    groups: dict = {"total": {None: dict.fromkeys(FIGURES, 0)}, "by_level": {}, "by_station": {}, "by_month": {}}
    for row in await session.execute(text(sql), params):
        groups[GROUPS[row[0]]][row[1]] = figures(row)
    total = groups["total"][None]
    owed = receivables.balances(principal).subquery()
    receivable = await session.scalar(select(func.coalesce(func.sum(owed.c.balance_fen), 0)).where(exists().where(
        LedgerLine.worker_id == owed.c.worker_id, LedgerLine.policy_code == policy_code,
        LedgerLine.month_idx.between(lo, hi))))
    return {"policy": policy_code, "from": from_month, "to": to_month, **total,
            "lines": total["months"], "receivable_fen": int(receivable or 0),
            # in key order, as the four queries this replaced gave them (a worker-month without a live payment has
            # no level, and one without a confirmed service month no station: those are in the total only)
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
