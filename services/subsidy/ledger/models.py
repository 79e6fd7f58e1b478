"""Disbursement batches (发放), the payment ledger (subsidy months and one-off awards), recovery items."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Computed, DateTime, ForeignKey, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.subsidy.base import Base
from services.subsidy.facts.models import MONTH_IDX_SQL


class Disbursement(Base):
    __tablename__ = "disbursements"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_code: Mapped[str] = mapped_column(Text)
    month: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    line_count: Mapped[int] = mapped_column(default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerLine(Base):
    """One payment: a subsidy month (kind 'subsidy', one per worker, policy and month ever) or an award."""

    __tablename__ = "ledger_lines"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text)
    worker_id: Mapped[uuid.UUID]
    policy_code: Mapped[str | None] = mapped_column(Text)
    policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policies.id"))
    disbursement_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("disbursements.id"))
    month: Mapped[str | None] = mapped_column(Text)
    month_idx: Mapped[int | None] = mapped_column(Computed(MONTH_IDX_SQL, persisted=True))
    level: Mapped[str | None] = mapped_column(Text)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="pending")
    failure_reason: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    awarded_on: Mapped[date | None]
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    marked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryItem(Base):
    """Money paid for a month a revoked certificate no longer covers: to be recovered, never ignored."""

    __tablename__ = "recovery_items"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    worker_id: Mapped[uuid.UUID]
    ledger_line_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_lines.id"))
    certificate_id: Mapped[uuid.UUID]
    month: Mapped[str] = mapped_column(Text)
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    due_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
