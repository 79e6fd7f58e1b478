"""Workers (people in the talent database, 社工人才信息库), their trainings and honours."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.base import Base, IdMixin


class Worker(IdMixin, Base):
    """A person. ID number and phone are stored encrypted, and masked; `id_number_hash` (HMAC) is for look-up."""

    __tablename__ = "workers"
    __table_args__ = (CheckConstraint("gender IN ('male', 'female')", name="gender"),)
    name: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    gender: Mapped[str] = mapped_column(Text, nullable=False)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    id_number_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What every role but an unmasking bureau_admin is shown, kept so that lists decrypt nothing (no more than
    # the masked forms: `PersonalDataCipher.id_number_columns`, `phone_columns`).
    id_number_masked: Mapped[str] = mapped_column(Text, nullable=False)
    phone_masked: Mapped[str | None] = mapped_column(Text)
    education: Mapped[str | None] = mapped_column(Text)
    political_status: Mapped[str | None] = mapped_column(Text)
    full_time: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true", default=True)
    notes: Mapped[str | None] = mapped_column(Text)
    # Registration with the bureau (在民政局登记); null while not registered.
    registered_on: Mapped[date | None] = mapped_column(Date)
    registration_division_code: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.now(), default=func.now())


class Training(IdMixin, Base):
    __tablename__ = "trainings"
    __table_args__ = (
        CheckConstraint("kind IN ('exam_preparation', 'supervision', 'study_visit', 'other')", name="kind"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )
    worker_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), ForeignKey("workers.id"), index=True,
                                                 nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    hours: Mapped[float] = mapped_column(Float, nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date] = mapped_column(Date, nullable=False)


class Honour(IdMixin, Base):
    """荣誉表彰."""

    __tablename__ = "honours"
    worker_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), ForeignKey("workers.id"), index=True,
                                                 nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    awarded_on: Mapped[date] = mapped_column(Date, nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False)
