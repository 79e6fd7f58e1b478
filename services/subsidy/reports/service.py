"""Reports over the ledger: what was paid (summary) and what approved applications will cost (forecast)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.eligibility import rules
from services.subsidy.facts.models import ServiceMonthFact
from services.subsidy.facts.repository import load_approved_facts
from services.subsidy.ledger.models import Disbursement, LedgerLine
from services.subsidy.policies.service import terms_of, versions
from shared.auth import Principal, Role
from shared.errors import Invalid


async def summary(*, session: AsyncSession, principal: Principal, policy_code: str, from_month: str,
                  to_month: str) -> dict:
    """People paid and amounts over batched lines (pending or paid, never failed) in [from, to]."""
    await versions(session=session, code=policy_code)
    lo, hi = rules.month_idx(from_month), rules.month_idx(to_month)
    if lo > hi:
        raise Invalid("from is after to", field="from")
    line = LedgerLine
    where = [line.kind == "subsidy", line.status != "failed", line.policy_code == policy_code,
             line.month_idx.between(lo, hi), readable_workers(principal, line.worker_id)]
    people, total, count = (await session.execute(select(
        func.count(distinct(line.worker_id)), func.coalesce(func.sum(line.amount_fen), 0), func.count())
        .where(*where))).one()
    by_level = {r[0]: {"people": r[1], "months": r[2], "total_fen": int(r[3])} for r in (await session.execute(
        select(line.level, func.count(distinct(line.worker_id)), func.count(), func.sum(line.amount_fen))
        .where(*where).group_by(line.level).order_by(line.level))).all()}
    station = ServiceMonthFact.station_id
    by_station = {str(r[0]): {"people": r[1], "months": r[2], "total_fen": int(r[3])} for r in (await session.execute(
        select(station, func.count(distinct(line.worker_id)), func.count(), func.sum(line.amount_fen))
        .select_from(line).outerjoin(ServiceMonthFact, (ServiceMonthFact.worker_id == line.worker_id)
                                     & (ServiceMonthFact.month == line.month))
        .where(*where).group_by(station).order_by(station))).all()}
    row = (people, total, count)
    return {"policy": policy_code, "from": from_month, "to": to_month, "people": row[0], "total_fen": int(row[1]),
            "lines": row[2], "by_level": by_level, "by_station": by_station}


async def forecast(*, session: AsyncSession, principal: Principal, policy_code: str, months: int) -> dict:
    """Cost of the next `months` months for approved applications, assuming confirmed full-time service
    goes on unbroken from each worker's latest run and certificates and registrations stay as they are."""
    principal.require(Role.BUREAU_ADMIN, Role.AUDITOR)
    terms = [terms_of(p) for p in await versions(session=session, code=policy_code)]
    last_batch = await session.scalar(select(Disbursement.month).where(Disbursement.policy_code == policy_code)
                                      .order_by(Disbursement.month.desc()).limit(1))
    today = datetime.now(UTC).date()
    start = rules.month_idx(last_batch) + 1 if last_batch else rules.date_month(today)
    end = start + months - 1
    facts = await load_approved_facts(session, policy_code=policy_code, through=end)
    per_month = {m: {"month": rules.month_str(m), "people": 0, "total_fen": 0} for m in range(start, end + 1)}
    arrears = 0
    for worker_facts in facts.values():
        runs = list(worker_facts.runs)
        if runs and runs[-1][1] >= start - 2:  # the current run is assumed to go on
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        projected = rules.Facts(worker_facts.certificates, worker_facts.registration, tuple(runs),
                                worker_facts.part_time, worker_facts.paid)
        for verdict in rules.payable_months(projected, terms, through=end):
            m = rules.month_idx(verdict.month)
            if m < start:
                arrears += verdict.amount_fen
            else:
                per_month[m]["people"] += 1
                per_month[m]["total_fen"] += verdict.amount_fen
    items = list(per_month.values())
    return {"policy": policy_code, "approved_workers": len(facts), "months": items, "arrears_fen": arrears,
            "total_fen": sum(i["total_fen"] for i in items) + arrears,
            "assumption": "confirmed full-time service continues unbroken; certificates and registration unchanged"}
