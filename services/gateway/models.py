"""SQLAlchemy tables of the gateway service (its own database; no other service reads them)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.audit import audit_tables
from shared.db import new_metadata
from shared.events.tables import event_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox, dead_letters = event_tables(Base.metadata)
audit_log, audit_anchor = audit_tables(Base.metadata)

from services.gateway.identity import models as _identity  # noqa: E402, F401  (registers the identity tables)
