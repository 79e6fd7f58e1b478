"""Employment of a worker at a station or an organization (任职)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.base import Base, IdMixin


class Employment(IdMixin, Base):
    __tablename__ = "employments"
    __table_args__ = (
        CheckConstraint("station_id IS NOT NULL OR organization_id IS NOT NULL", name="employer"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
        CheckConstraint("confirmation IN ('confirmed', 'pending', 'rejected')", name="confirmation"),
        Index("uq_employments_worker_station_start", "worker_id", "station_id", "start_date", unique=True,
              postgresql_where="station_id IS NOT NULL"),
        Index("ix_employments_station_worker", "station_id", "worker_id"),
        # what GET /v1/stats reads of every employment at a station, in worker order (migration 0008)
        Index("ix_employments_station_by_worker", "worker_id",
              postgresql_include=["station_id", "confirmation", "start_date", "end_date"],
              postgresql_where=text("station_id IS NOT NULL")),
    )
    worker_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), ForeignKey("workers.id"), nullable=False,
                                                 index=True)
    station_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True), ForeignKey("stations.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True), ForeignKey("organizations.id"))
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date | None] = mapped_column(Date)
    full_time: Mapped[bool] = mapped_column(Boolean, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    # A station manager's employment starting more than two months back is `pending` until a bureau_admin
    # confirms it: till then it does not count (the employment check for service reports ignores it).
    confirmation: Mapped[str] = mapped_column(Text, nullable=False, server_default="confirmed")
    recorded_by: Mapped[str | None] = mapped_column(Text)
    confirmed_by: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
