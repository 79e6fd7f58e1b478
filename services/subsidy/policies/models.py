"""Subsidy policies as versioned data."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import DateTime, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from services.subsidy.base import Base


class Policy(Base):
    """One version of a policy; a version that has paid anything is never changed, a new one is made."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_policies_code_version"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    division_code: Mapped[str] = mapped_column(Text)
    certificates_from: Mapped[date]
    rate_senior_fen: Mapped[int]
    rate_intermediate_fen: Mapped[int]
    rate_assistant_fen: Mapped[int]
    qualifying_months: Mapped[int]
    cap_months: Mapped[int]
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
