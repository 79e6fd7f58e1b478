"""The payment cycle of a batch (发放): notice (公示), objections, approval, release to the bank, the bank's results,
and what the workers are told. A batch without a cycle row is a `draft`."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.subsidy.base import Base

STATUSES = ("draft", "on_notice", "approved", "released", "settled")


class PaymentTerms(Base):
    """Per policy: how many working days the notice lasts (policy data, changed by a bureau_admin)."""

    __tablename__ = "payment_terms"
    policy_code: Mapped[str] = mapped_column(Text, primary_key=True)
    notice_working_days: Mapped[int]
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentCycle(Base):
    __tablename__ = "payment_cycles"
    disbursement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disbursements.id"), primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    notice_working_days: Mapped[int]
    published_by: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_on: Mapped[date]
    notice_ends_on: Mapped[date | None]
    approvable_on: Mapped[date]
    approved_by: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(Text)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bank_count: Mapped[int | None]
    bank_total_fen: Mapped[int | None] = mapped_column(BigInteger)


class Objection(Base):
    """An objection to a worker's payment in a batch on notice: holds it out of the release until decided."""

    __tablename__ = "payment_objections"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    disbursement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disbursements.id"))
    line_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_lines.id"))
    worker_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="open")
    raised_by: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BankPayment(Base):
    """One transfer released to the bank: its sequence number (序号) in the bank file, the registry's account row
    it pays into (the number itself stays in the registry), the amount, and the bank's result."""

    __tablename__ = "bank_payments"
    __table_args__ = (UniqueConstraint("disbursement_id", "worker_id"),)
    disbursement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disbursements.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[uuid.UUID]
    account_id: Mapped[uuid.UUID]
    account_masked: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="sent")  # sent -> paid | failed
    failure_reason: Mapped[str | None] = mapped_column(Text)
    result_file_id: Mapped[uuid.UUID | None]


class BankFile(Base):
    """The sha256 of each template's bank file of a release: every download must give these bytes again."""

    __tablename__ = "bank_files"
    disbursement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disbursements.id"), primary_key=True)
    template: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str] = mapped_column(Text)
    size: Mapped[int]
    count: Mapped[int]
    total_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BankResultFile(Base):
    """A result file the bank returned, once per content (sha256): sending it again changes nothing."""

    __tablename__ = "bank_result_files"
    __table_args__ = (UniqueConstraint("disbursement_id", "sha256"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    disbursement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disbursements.id"))
    sha256: Mapped[str] = mapped_column(Text)
    report: Mapped[dict] = mapped_column(JSONB)
    received_by: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Notification(Base):
    """What a worker is told (on notice, paid, failed with the reason): once per worker, batch and event."""

    __tablename__ = "worker_notifications"
    __table_args__ = (UniqueConstraint("worker_id", "disbursement_id", "event"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    worker_id: Mapped[uuid.UUID]
    disbursement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disbursements.id"))
    month: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookSubscription(Base):
    """An endpoint (an HR system's) that receives what the workers are told, signed (Standard Webhooks)."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)  # whsec_<base64>: shown once, kept to sign
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One message to one subscription: written with the notification, sent and retried with backoff."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "notification_id"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)  # the webhook-id, kept on retries
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("worker_notifications.id"))
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, default="pending")  # pending -> delivered | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
