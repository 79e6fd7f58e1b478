"""Disbursement totals on /metrics: ledger amounts in fen by kind and status, read at scrape time."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Gauge
from sqlalchemy import func, select

from services.subsidy.ledger.models import LedgerLine


def install_ledger_metrics(app: FastAPI) -> None:
    metrics = app.state.metrics
    totals = Gauge("ledger_amount_fen", "ledger amounts in fen by kind (subsidy, award) and status",
                   ["kind", "status"], registry=metrics.registry)
    lines = Gauge("ledger_lines", "ledger lines by kind and status", ["kind", "status"], registry=metrics.registry)

    async def refresh(app: FastAPI, _registry) -> None:
        async with app.state.sessionmaker() as session:
            rows = await session.execute(
                select(LedgerLine.kind, LedgerLine.status, func.count(),
                       func.coalesce(func.sum(LedgerLine.amount_fen), 0))
                .group_by(LedgerLine.kind, LedgerLine.status))
        for kind, status, count, amount in rows:
            lines.labels(kind, status).set(count)
            totals.labels(kind, status).set(amount)

    metrics.hooks.append(refresh)
