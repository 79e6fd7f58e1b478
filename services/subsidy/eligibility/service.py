"""Eligibility of one worker under one policy, explained month by month."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import ensure_readable
from services.subsidy.eligibility import rules
from services.subsidy.facts.repository import load_facts
from services.subsidy.policies.service import terms_of, versions
from shared.auth import Principal
from shared.errors import Invalid


async def eligibility(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, policy_code: str,
                      through: str, from_month: str | None) -> dict:
    await ensure_readable(session=session, principal=principal, worker_id=worker_id)
    terms = [terms_of(p) for p in await versions(session=session, code=policy_code)]
    through_idx = rules.month_idx(through)
    facts = (await load_facts(session, policy_code=policy_code, through=through_idx, worker_id=worker_id))[worker_id]
    if from_month is None:  # from the first known service month (or a year back), not before the policy
        known = [first for first, _ in facts.runs] + list(facts.part_time)
        from_idx = min(known) if known else through_idx - 11
        from_idx = max(from_idx, rules.date_month(min(t.effective_from for t in terms)), through_idx - 119)
        from_month = rules.month_str(min(from_idx, through_idx))
    elif rules.month_idx(from_month) > through_idx:
        raise Invalid("from is after through", field="from")
    verdicts = rules.explain(facts, terms, from_month=from_month, through=through)
    payable = [v for v in verdicts if v.payable]
    reasons: list[str] = []
    seen: set[str] = set()
    for verdict in reversed(verdicts):  # the latest month's reason first
        if not verdict.payable and verdict.rule not in seen:
            seen.add(verdict.rule)
            reasons.append(f"{verdict.month}: {verdict.reason} ({verdict.rule})")
    return {
        "worker_id": worker_id, "policy": policy_code, "from_month": from_month, "through": through,
        "eligible": bool(payable) or "already_paid" in seen, "reasons": reasons,
        "payable_months": [{"month": v.month, "level": v.level, "amount_fen": v.amount_fen} for v in payable],
        "payable_total_fen": sum(v.amount_fen for v in payable),
        "months": [v.as_dict() for v in verdicts],
    }
