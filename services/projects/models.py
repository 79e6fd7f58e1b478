"""SQLAlchemy tables of the projects service (its own database; no other service reads them)."""

from __future__ import annotations

from services.projects.activities.models import Activity
from services.projects.calls.models import FundCall
from services.projects.db_base import Base
from services.projects.microprojects.models import MicroProject
from services.projects.service_reports.models import ServiceReport, ServiceReportEntry
from shared.audit import audit_tables
from shared.events.tables import event_tables

outbox, inbox, dead_letters = event_tables(Base.metadata)
audit_log, audit_anchor = audit_tables(Base.metadata)

__all__ = ["Base", "FundCall", "MicroProject", "Activity", "ServiceReport", "ServiceReportEntry",
           "outbox", "inbox", "dead_letters"]
