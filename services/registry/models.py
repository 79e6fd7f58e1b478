"""SQLAlchemy tables of the registry service (its own database; no other service reads them)."""

from __future__ import annotations

from services.registry.bank_accounts.models import BankAccount
from services.registry.base import Base, dead_letters, inbox, outbox
from services.registry.certificates.models import Certificate
from services.registry.employments.models import Employment
from services.registry.imports.models import ImportRequest
from services.registry.privacy.models import PersonalDataAccess
from services.registry.stations.models import Organization, Station
from services.registry.workers.models import Honour, Training, Worker

__all__ = ["BankAccount", "Base", "Certificate", "Employment", "Honour", "ImportRequest", "Organization",
           "PersonalDataAccess", "Station", "Training", "Worker", "dead_letters", "inbox", "outbox"]
