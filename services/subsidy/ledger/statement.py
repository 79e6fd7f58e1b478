"""A worker's statement for a policy: per month what is due now, what was paid, topped up and recovered, the
net, and why (the rule and the fact behind the latest entry)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.ledger.models import LedgerLine


async def month_figures(session: AsyncSession, *, worker_id: uuid.UUID, policy_code: str) -> dict[str, dict]:
    """Per month (YYYY-MM): paid, pending, top-ups, recovered, failed, voided and net, and the latest reason."""
    out: dict[str, dict] = defaultdict(lambda: {"paid_fen": 0, "pending_fen": 0, "top_ups_fen": 0,
                                                "recovered_fen": 0, "failed_fen": 0, "voided_fen": 0, "net_fen": 0,
                                                "last_entry": None})
    for e in await session.scalars(select(LedgerLine).where(
            LedgerLine.worker_id == worker_id, LedgerLine.policy_code == policy_code, LedgerLine.kind != "award")
            .order_by(LedgerLine.id)):
        row = out[e.month]
        if e.kind == "recovery":
            row["recovered_fen"] += e.amount_fen
            row["net_fen"] -= e.amount_fen
        elif e.status in ("pending", "paid"):
            row["net_fen"] += e.amount_fen
            if e.kind == "top_up":
                row["top_ups_fen"] += e.amount_fen
            row["paid_fen" if e.status == "paid" else "pending_fen"] += e.amount_fen
        else:
            row[f"{e.status}_fen"] += e.amount_fen
        row["last_entry"] = {"kind": e.kind, "amount_fen": e.amount_fen, "status": e.status, "rule": e.rule,
                             "reason": e.reason, "disbursement_id": e.disbursement_id, "created_at": e.created_at}
    return dict(out)
