"""Activities (service records) of a micro-project: who served, whom, with what volunteers and money."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.projects.db_base import Base


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("expense_fen >= 0 AND volunteer_count >= 0 AND volunteer_hours >= 0", name="non_negative"),
        Index("ix_activities_project", "project_id", "date"),
        Index("ix_activities_station", "station_id", "date"),
        Index("ix_activities_workers", "worker_ids", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    station_id: Mapped[uuid.UUID] = mapped_column()  # copied from the project: station summaries scan by it
    date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text)
    worker_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    beneficiaries: Mapped[dict] = mapped_column(JSONB)
    volunteer_count: Mapped[int] = mapped_column(Integer)
    volunteer_hours: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    charitable_resources: Mapped[list] = mapped_column(JSONB)
    expense_fen: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
