"""The subsidy service's own copy of the facts it needs, built from events only."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Computed, DateTime, Numeric, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.subsidy.base import Base

MONTH_IDX_SQL = "(substr(month, 1, 4)::int * 12 + substr(month, 6, 2)::int - 1)"


class CertificateFact(Base):
    """A certificate as last told by the registry; a revocation may arrive before its issue."""

    __tablename__ = "certificates"
    certificate_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    worker_id: Mapped[uuid.UUID] = mapped_column(index=True)
    level: Mapped[str | None] = mapped_column(Text)
    certificate_no: Mapped[str | None] = mapped_column(Text)
    obtained_on: Mapped[date | None]
    revoked_on: Mapped[date | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RegistrationFact(Base):
    """Bureau registration (登记); the event with the latest time wins."""

    __tablename__ = "registrations"
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    registered_on: Mapped[date | None]
    division_code: Mapped[str | None] = mapped_column(Text)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ServiceMonthFact(Base):
    """A confirmed service month; the highest revision of a worker-month wins."""

    __tablename__ = "service_months"
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(Text, primary_key=True)
    month_idx: Mapped[int] = mapped_column(Computed(MONTH_IDX_SQL, persisted=True))
    station_id: Mapped[uuid.UUID]
    full_time: Mapped[bool]
    service_hours: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    revision: Mapped[int]


class ServiceRun(Base):
    """An unbroken run of confirmed full-time months (month indexes), rebuilt for a worker on each change."""

    __tablename__ = "service_runs"
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    first_idx: Mapped[int] = mapped_column(primary_key=True)
    last_idx: Mapped[int]


class FactChange(Base):
    """Per worker: a sequence bumped by every change of its facts (and by a failed payment), and the earliest
    month the changes since the last settlement can affect (None: none since; a batch clears it)."""

    __tablename__ = "fact_changes"
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    from_idx: Mapped[int | None]
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
