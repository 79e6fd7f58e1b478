"""Eligibility of one worker under one policy, explained month by month, with the ledger's net per month."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import ensure_readable
from services.subsidy.applications.models import Application
from services.subsidy.eligibility import rules
from services.subsidy.facts.models import CertificateFact, RegistrationFact, ServiceMonthFact
from services.subsidy.facts.repository import load_worker
from services.subsidy.ledger.models import LedgerLine
from services.subsidy.ledger.statement import month_figures
from services.subsidy.policies.service import terms_of, versions
from shared.auth import Principal
from shared.errors import Invalid, NotFound


async def ensure_known(session: AsyncSession, worker_id: uuid.UUID) -> None:
    """404 for a worker no fact, application or ledger entry of this service has ever named."""
    known = await session.scalar(select(or_(*(exists().where(col == worker_id) for col in (
        ServiceMonthFact.worker_id, CertificateFact.worker_id, RegistrationFact.worker_id, Application.worker_id,
        LedgerLine.worker_id)))))
    if not known:
        raise NotFound("no such worker")


async def explained(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, policy_code: str,
                    through: str, from_month: str | None) -> tuple[list[rules.MonthVerdict], str, dict[str, dict]]:
    """The verdicts from `from_month` (default: the first known service month) through `through`, and the
    ledger's figures per month."""
    await ensure_readable(session=session, principal=principal, worker_id=worker_id)
    await ensure_known(session, worker_id)
    terms = [terms_of(p) for p in await versions(session=session, code=policy_code)]
    through_idx = rules.month_idx(through)
    facts = (await load_worker(session, policy_code=policy_code, through=through_idx, worker_id=worker_id)).facts
    figures = await month_figures(session, worker_id=worker_id, policy_code=policy_code)
    if from_month is None:  # from the first known service month (or a year back), not before the policy
        known = [first for first, _ in facts.runs] + list(facts.part_time)
        from_idx = min(known) if known else through_idx - 11
        from_idx = max(from_idx, rules.date_month(min(t.effective_from for t in terms)), through_idx - 119)
        from_month = rules.month_str(min(from_idx, through_idx))
    elif rules.month_idx(from_month) > through_idx:
        raise Invalid("from is after through", field="from")
    return rules.explain(facts, terms, from_month=from_month, through=through), from_month, figures


async def eligibility(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, policy_code: str,
                      through: str, from_month: str | None) -> dict:
    verdicts, from_month, figures = await explained(
        session=session, principal=principal, worker_id=worker_id, policy_code=policy_code, through=through,
        from_month=from_month)
    payable = [v for v in verdicts if v.payable]
    reasons: list[str] = []
    seen: set[str] = set()
    for verdict in reversed(verdicts):  # the latest month's reason first
        if not verdict.payable and verdict.rule not in seen:
            seen.add(verdict.rule)
            reasons.append(f"{verdict.month}: {verdict.reason} ({verdict.rule})")
    return {
        "worker_id": worker_id, "policy": policy_code, "from_month": from_month, "through": through,
        "eligible": bool(payable), "reasons": reasons,
        "payable_months": [{"month": v.month, "level": v.level, "amount_fen": v.amount_fen} for v in payable],
        "payable_total_fen": sum(v.amount_fen for v in payable),
        "months": [{**v.as_dict(), "net_fen": figures.get(v.month, {}).get("net_fen", 0)} for v in verdicts],
    }


async def statement(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, policy_code: str,
                    through: str, from_month: str | None) -> dict:
    """Per month: due now, paid, pending, top-ups, recovered, net, and why; months with money before `from` too."""
    verdicts, from_month, figures = await explained(
        session=session, principal=principal, worker_id=worker_id, policy_code=policy_code, through=through,
        from_month=from_month)
    by_month = {v.month: v for v in verdicts}
    months = []
    for month in sorted(set(by_month) | {m for m in figures if m <= through}):
        v = by_month.get(month)
        f = figures.get(month, {})
        due = v.amount_fen if v is not None and v.payable else 0
        last = f.get("last_entry")
        months.append({
            "month": month, "due_fen": due, "paid_fen": f.get("paid_fen", 0), "pending_fen": f.get("pending_fen", 0),
            "top_ups_fen": f.get("top_ups_fen", 0), "recovered_fen": f.get("recovered_fen", 0),
            "failed_fen": f.get("failed_fen", 0), "net_fen": f.get("net_fen", 0),
            "rule": v.rule if v is not None else None, "reason": v.reason if v is not None else None,
            "level": v.level if v is not None else None, "last_entry": last})
    return {"worker_id": worker_id, "policy": policy_code, "from_month": from_month, "through": through,
            "due_fen": sum(m["due_fen"] for m in months), "net_fen": sum(m["net_fen"] for m in months),
            "months": months}
