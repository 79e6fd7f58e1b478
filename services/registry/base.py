"""Declarative base of the registry tables, and the shared event tables on its metadata."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, func
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.audit import audit_tables
from shared.db import new_metadata
from shared.events.tables import event_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox, dead_letters = event_tables(Base.metadata)
audit_log, audit_anchor = audit_tables(Base.metadata)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.now(), default=func.now())
