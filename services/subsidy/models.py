"""SQLAlchemy tables of the subsidy service (its own database; no other service reads them)."""

from __future__ import annotations

from services.subsidy.applications.models import Application
from services.subsidy.base import Base, dead_letters, inbox, outbox
from services.subsidy.facts.models import CertificateFact, RegistrationFact, ServiceMonthFact, ServiceRun
from services.subsidy.ledger.models import Disbursement, LedgerLine, RecoveryItem
from services.subsidy.policies.models import Policy

__all__ = ["Application", "Base", "CertificateFact", "Disbursement", "LedgerLine", "Policy", "RecoveryItem",
           "RegistrationFact", "ServiceMonthFact", "ServiceRun", "dead_letters", "inbox", "outbox"]
