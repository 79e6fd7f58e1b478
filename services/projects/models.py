"""SQLAlchemy tables of the projects service (its own database; no other service reads them)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import new_metadata
from shared.events.tables import event_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox, dead_letters = event_tables(Base.metadata)
