"""Five-society linkage micro-projects (五社联动小微项目) and their budgets."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.projects.db_base import Base

STATUSES = ("draft", "submitted", "approved", "rejected", "in_progress", "completed", "closed")


class MicroProject(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        CheckConstraint("spent_fen >= 0 AND spent_fen <= coalesce(approved_budget_fen, 0)", name="spend_within_budget"),
        Index("ix_projects_station", "station_id", "created_at"),
        Index("ix_projects_call", "call_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"))
    station_id: Mapped[uuid.UUID] = mapped_column()
    lead_organization: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    goals: Mapped[str] = mapped_column(Text)
    partners: Mapped[list] = mapped_column(JSONB)
    requested_budget_fen: Mapped[int] = mapped_column(BigInteger)
    approved_budget_fen: Mapped[int | None] = mapped_column(BigInteger)
    spent_fen: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    status: Mapped[str] = mapped_column(Text, server_default="draft", default="draft")
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
