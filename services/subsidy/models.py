"""SQLAlchemy tables of the subsidy service (its own database; no other service reads them)."""

from __future__ import annotations

from services.subsidy.applications.models import Application
from services.subsidy.base import Base, dead_letters, inbox, outbox
from services.subsidy.facts.models import CertificateFact, FactChange, RegistrationFact, ServiceMonthFact, ServiceRun
from services.subsidy.ledger.models import (
    Award,
    AwardType,
    Disbursement,
    DisbursementWorker,
    LedgerLine,
    RecoveryItem,
    Repayment,
    SettledWorker,
    WriteOff,
)
from services.subsidy.payments.models import (
    BankFile,
    BankPayment,
    BankResultFile,
    Notification,
    Objection,
    PaymentCycle,
    PaymentTerms,
    WebhookDelivery,
    WebhookSubscription,
)
from services.subsidy.policies.models import Policy

__all__ = [
    "Application",
    "Award",
    "AwardType",
    "BankFile",
    "BankPayment",
    "BankResultFile",
    "Base",
    "CertificateFact",
    "Disbursement",
    "DisbursementWorker",
    "FactChange",
    "LedgerLine",
    "Notification",
    "Objection",
    "PaymentCycle",
    "PaymentTerms",
    "Policy",
    "RecoveryItem",
    "RegistrationFact",
    "Repayment",
    "ServiceMonthFact",
    "ServiceRun",
    "SettledWorker",
    "WebhookDelivery",
    "WebhookSubscription",
    "WriteOff",
    "dead_letters",
    "inbox",
    "outbox",
]
