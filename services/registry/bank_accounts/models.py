"""Workers' bank accounts (代发账户): every change a row of its own, none ever edited but for its status."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.base import Base, IdMixin

STATUSES = ("pending", "verified", "rejected", "superseded")


class BankAccount(IdMixin, Base):
    """An account a worker is paid into. `verified` is the one in use (at most one per worker); `pending` waits
    for a bureau_admin (at most one per worker); `superseded` and `rejected` are the history."""

    __tablename__ = "bank_accounts"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        Index("uq_bank_accounts_verified", "worker_id", unique=True, postgresql_where=text("status = 'verified'")),
        Index("uq_bank_accounts_pending", "worker_id", unique=True, postgresql_where=text("status = 'pending'")),
    )
    worker_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), ForeignKey("workers.id"), nullable=False,
                                                 index=True)
    bank_name: Mapped[str] = mapped_column(Text, nullable=False)
    account_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # AES-GCM like the ID number
    account_masked: Mapped[str] = mapped_column(Text, nullable=False)  # what lists show: `service.number_columns`
    holder_name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_by: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_roles: Mapped[str] = mapped_column(Text, nullable=False)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
