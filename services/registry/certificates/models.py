"""National social-work professional level certificates (社会工作者职业水平证书)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, Float, ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.base import Base, IdMixin


class Certificate(IdMixin, Base):
    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("level IN ('assistant', 'intermediate', 'senior')", name="level"),
        CheckConstraint("status IN ('valid', 'revoked')", name="status"),
        CheckConstraint("verification IN ('claimed', 'verified', 'rejected')", name="verification"),
        UniqueConstraint("worker_id", "certificate_no", name="uq_certificates_worker_no"),
        # what GET /v1/stats reads of every verified certificate, in worker order (migration 0008)
        Index("ix_certificates_verified_worker", "worker_id",
              postgresql_include=["level", "status", "obtained_on", "revoked_on"],
              postgresql_where=text("verification = 'verified'")),
    )
    worker_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), ForeignKey("workers.id"), nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False)
    certificate_no: Mapped[str] = mapped_column(Text, nullable=False)
    obtained_on: Mapped[date] = mapped_column(Date, nullable=False)
    # Registration on the national social-work platform; re-registered every three years.
    platform_registered_on: Mapped[date | None] = mapped_column(Date)
    platform_registration_expires_on: Mapped[date | None] = mapped_column(Date)
    continuing_education_hours: Mapped[float] = mapped_column(Float, nullable=False, server_default="0", default=0)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="valid", default="valid")
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    # A certificate moves money, so only the bureau's word makes it count: recorded by a bureau_admin (or a
    # trusted HR system) it is `verified` at once; recorded by anyone else it is a `claimed` until a
    # bureau_admin other than its recorder verifies (or rejects) it. Only a verified one emits certificate-issued.
    verification: Mapped[str] = mapped_column(Text, nullable=False, server_default="verified")
    recorded_by: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
