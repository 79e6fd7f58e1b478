"""Disbursement batches (发放), the append-only payment ledger, per-worker settlements, receivables, awards.

Ledger entries (`ledger_lines`) per worker, policy and month: `subsidy` (a month's first payment, again
after a failed or voided one), `top_up` and `recovery` (amount stored positive; the kind says it is taken
back), plus `award` lines. No amount is ever updated; only a status moves: pending -> paid | failed |
voided for payments, `recorded` for recoveries. A worker-month's net = its subsidy and top-up entries
pending or paid - its recoveries.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Computed, DateTime, ForeignKey, Identity, Text, func
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
    """One entry: a subsidy month, a top-up, a recovery or an award (see the module text)."""

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
    rule: Mapped[str | None] = mapped_column(Text)  # the verdict's rule when the entry was settled
    reason: Mapped[str | None] = mapped_column(Text)  # why: the verdict's reason (naming the fact) and the net
    due_fen: Mapped[int | None] = mapped_column(BigInteger)  # what was due for the month when settled
    award_id: Mapped[uuid.UUID | None]
    # the station of the confirmed service month the entry was settled for (none: an award, or no such month);
    # the report summary groups by it (migration 0010)
    station_id: Mapped[uuid.UUID | None]


class DisbursementWorker(Base):
    """One worker's settlement in one batch: what it brings, what is set off, the one bank transfer."""

    __tablename__ = "disbursement_workers"
    # The audit trail names a batch's rows by this (migration 0008); the key is (disbursement_id, worker_id).
    id: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    disbursement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disbursements.id"), primary_key=True)
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    new_months: Mapped[int]
    new_months_fen: Mapped[int] = mapped_column(BigInteger)
    top_ups_fen: Mapped[int] = mapped_column(BigInteger)
    awards_fen: Mapped[int] = mapped_column(BigInteger)
    recovered_fen: Mapped[int] = mapped_column(BigInteger)
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    receivable_before_fen: Mapped[int] = mapped_column(BigInteger)
    set_off_fen: Mapped[int] = mapped_column(BigInteger)
    net_to_pay_fen: Mapped[int] = mapped_column(BigInteger)
    receivable_after_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    marked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SettledWorker(Base):
    """Per policy and worker: the fact sequence, month and count of due months it was last settled at."""

    __tablename__ = "settled_workers"
    policy_code: Mapped[str] = mapped_column(Text, primary_key=True)
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    through_idx: Mapped[int]
    due_count: Mapped[int]
    versions_key: Mapped[str] = mapped_column(Text)


class Repayment(Base):
    __tablename__ = "receivable_repayments"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    worker_id: Mapped[uuid.UUID]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WriteOff(Base):
    __tablename__ = "receivable_write_offs"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    worker_id: Mapped[uuid.UUID]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="proposed")
    proposed_by: Mapped[str] = mapped_column(Text)
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AwardType(Base):
    __tablename__ = "award_types"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True)


class Award(Base):
    """A one-off talent award: recorded, approved by a second bureau_admin, paid only through a batch."""

    __tablename__ = "awards"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    worker_id: Mapped[uuid.UUID]
    award_type: Mapped[str] = mapped_column(Text, ForeignKey("award_types.code"))
    title: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    awarded_on: Mapped[date]
    status: Mapped[str] = mapped_column(Text, default="recorded")
    recorded_by: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryItem(Base):
    """History only (before entries): money paid for a month a revoked certificate no longer covered."""

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
