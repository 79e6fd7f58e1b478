"""Looks at unmasked personal data (PIPL: who saw whose data, when and why)."""

from __future__ import annotations

import uuid

from sqlalchemy import Index, Text
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.base import Base, IdMixin


class PersonalDataAccess(IdMixin, Base):
    """One row per worker whose ID number, phone and birth date a caller saw unmasked; `created_at` is when."""

    __tablename__ = "personal_data_access"
    __table_args__ = (Index("ix_personal_data_access_worker", "worker_id", "created_at"),)
    worker_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    client_id: Mapped[str | None] = mapped_column(Text)
    roles: Mapped[str] = mapped_column(Text, nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    fields: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    request_id: Mapped[str | None] = mapped_column(Text)
