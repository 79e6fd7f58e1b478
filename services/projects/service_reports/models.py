"""Monthly station service reports: who worked full-time at a station in a month (source of service-month)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.projects.db_base import Base


class ServiceReport(Base):
    __tablename__ = "service_reports"
    __table_args__ = (
        UniqueConstraint("station_id", "month", name="uq_service_reports_station_month"),
        CheckConstraint("status IN ('draft', 'awaiting_bureau', 'confirmed')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    station_id: Mapped[uuid.UUID] = mapped_column()
    month: Mapped[str] = mapped_column(Text)
    # draft -> confirmed; a station manager confirming a month more than two months back moves it to
    # awaiting_bureau instead, and it counts (its service-month events are emitted) once a bureau_admin confirms.
    status: Mapped[str] = mapped_column(Text, server_default="draft", default="draft")
    created_by: Mapped[str] = mapped_column(Text)
    confirmed_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    amended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ServiceReportEntry(Base):
    __tablename__ = "service_report_entries"
    __table_args__ = (
        CheckConstraint("service_hours >= 0 AND revision >= 1", name="valid"),
        Index("ix_service_report_entries_worker", "worker_id"),
    )

    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_reports.id"), primary_key=True)
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    full_time: Mapped[bool] = mapped_column(Boolean)
    service_hours: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    # Revision of this worker's service-month event: 1 when the report is confirmed, +1 per amendment.
    revision: Mapped[int] = mapped_column(Integer, server_default="1", default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
