"""Payment cycle schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["draft", "on_notice", "approved", "released", "settled"]


class PaymentTermsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notice_working_days: int = Field(ge=0, le=60, description="how long the notice (公示) lasts, in working days")


class PaymentTermsRead(BaseModel):
    policy: str
    notice_working_days: int


class CycleRead(BaseModel):
    """Where the batch is in its payment cycle (a batch never published is `draft`)."""

    disbursement_id: uuid.UUID
    policy: str
    month: str
    created_by: str
    status: Status
    notice_working_days: int | None = None
    published_by: str | None = None
    published_on: date | None = None
    notice_ends_on: date | None = Field(None, description="the notice's last day (null: no notice period)")
    approvable_on: date | None = Field(None, description="the first day the batch can be approved")
    approved_by: str | None = None
    approved_at: datetime | None = None
    released_by: str | None = None
    released_at: datetime | None = None
    settled_at: datetime | None = None
    bank_count: int | None = Field(None, description="transfers in the bank file (control count)")
    bank_total_fen: int | None = Field(None, description="their total (control total)")
    open_objections: int = 0
    bank_files: dict[str, str] = Field(default_factory=dict, description="template: sha256 of its bank file")


class NotReleased(BaseModel):
    worker_id: uuid.UUID
    amount_fen: int
    reason: str


class ReleaseRead(CycleRead):
    not_released: list[NotReleased] = Field(description="transfers held out (voided: due again in the next batch)")
    templates_unavailable: dict[str, str] = Field(description="templates that cannot carry this release, and why")


class NoticeItem(BaseModel):
    worker_id: uuid.UUID
    line_id: int | None = Field(description="a line of the worker's transfer: where an objection is raised")
    name_masked: str = Field(examples=["张*三"])
    id_number_masked: str
    station: str
    level: str | None
    months: list[str]
    amount_fen: int
    status: str


class NoticeRead(BaseModel):
    disbursement_id: uuid.UUID
    policy: str
    month: str
    published_on: date
    notice_ends_on: date | None
    count: int
    total_fen: int
    items: list[NoticeItem]


class ObjectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class ObjectionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=2000)


class ObjectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    disbursement_id: uuid.UUID
    line_id: int
    worker_id: uuid.UUID
    reason: str
    status: Literal["open", "upheld", "dismissed"]
    raised_by: str
    decided_by: str | None
    decision_reason: str | None
    created_at: datetime
    decided_at: datetime | None


class BankPaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    worker_id: uuid.UUID
    account_masked: str
    amount_fen: int
    status: Literal["sent", "paid", "failed"]
    failure_reason: str | None


class Unmatched(BaseModel):
    row: int
    seq: int | None
    reason: str


class BankResultsRead(BaseModel):
    file_id: uuid.UUID
    sha256: str
    replayed: bool = Field(description="true: this file was received before; nothing changed now")
    rows: int
    control_count: int
    control_total_fen: int
    paid: int
    failed: int
    unchanged: int
    unmatched: list[Unmatched]
    status: Status


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    worker_id: uuid.UUID
    disbursement_id: uuid.UUID
    month: str
    event: Literal["on_notice", "paid", "failed"]
    amount_fen: int | None
    reason: str | None
    message: str
    created_at: datetime


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, examples=["https://hr.example.gov.cn/hooks/socialwork"])
    description: str | None = Field(None, max_length=500)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    url: str
    description: str | None
    active: bool
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="whsec_…: shown once; verifies webhook-signature (Standard Webhooks)")


class WebhookDeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    notification_id: uuid.UUID
    payload: dict
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
