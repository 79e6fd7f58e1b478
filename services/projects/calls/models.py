"""Fund calls (社区发展基金小微项目申报): a year's budget, its categories and its submission window."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.projects.db_base import Base


class FundCall(Base):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint("allocated_fen >= 0 AND allocated_fen <= total_budget_fen", name="allocation_within_budget"),
        CheckConstraint("window_closes >= window_opens", name="window_order"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    total_budget_fen: Mapped[int] = mapped_column(BigInteger)
    # Sum of approved budgets (less what closed projects gave back); the approval guard works on it.
    allocated_fen: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text))
    window_opens: Mapped[date] = mapped_column(Date)
    window_closes: Mapped[date] = mapped_column(Date)
    division_code: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
