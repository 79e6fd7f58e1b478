"""Ledger schemas: batches, lines, marks, awards, recoveries."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.clock import bureau_today
from shared.money import Fen
from shared.validators import MONTH_PATTERN

MONTH = MONTH_PATTERN


class DisbursementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(min_length=1, max_length=100, examples=["otog-talent-subsidy"])
    month: str = Field(pattern=MONTH, examples=["2024-12"])


class DisbursementRead(BaseModel):
    """Live figures: `line_count` and `total_fen` count payment lines pending or paid (voided and failed lines
    no longer count); `net_to_pay_fen` is what the bank transfers (after set-off), in `transfers` transfers."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    policy: str = Field(validation_alias="policy_code")
    month: str
    line_count: int
    total_fen: int
    recovered_fen: int = 0
    set_off_fen: int = 0
    net_to_pay_fen: int = 0
    transfers: int = 0
    failed_fen: int = 0
    voided_fen: int = 0
    created_by: str
    created_at: datetime


class DisbursementListItem(BaseModel):
    """A batch in `GET /v1/disbursements`: `line_count` and `total_fen` as the batch was created (the batch's own
    page, `GET /v1/disbursements/{id}`, has the live figures) and where its payment cycle is."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    policy: str = Field(validation_alias="policy_code")
    month: str
    status: Literal["draft", "on_notice", "approved", "released", "settled"]
    line_count: int
    total_fen: int
    created_by: str
    created_at: datetime


class DisbursementWorkerRead(BaseModel):
    """One worker in one batch: new months, top-ups, awards, recoveries, set-off, the transfer, the receivable."""

    model_config = ConfigDict(from_attributes=True)
    worker_id: uuid.UUID
    new_months: int
    new_months_fen: int
    top_ups_fen: int
    awards_fen: int
    recovered_fen: int
    gross_fen: int
    receivable_before_fen: int
    set_off_fen: int
    net_to_pay_fen: int
    receivable_after_fen: int
    status: Literal["pending", "paid", "failed", "voided"]
    failure_reason: str | None


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: Literal["subsidy", "top_up", "recovery", "award"]
    worker_id: uuid.UUID
    policy: str | None = Field(validation_alias="policy_code")
    disbursement_id: uuid.UUID | None
    month: str | None
    level: str | None
    amount_fen: int
    status: Literal["pending", "paid", "failed", "voided", "recorded"]
    failure_reason: str | None
    title: str | None
    awarded_on: date | None
    rule: str | None = None
    reason: str | None = None
    due_fen: int | None = None
    award_id: uuid.UUID | None = None
    created_at: datetime | None = None


class LineMark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["paid", "failed"]
    reason: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _failed_needs_reason(self):
        if self.status == "failed" and not self.reason:
            raise ValueError("reason is required when a payment failed")
        return self


class AwardCreate(BaseModel):
    """A one-off talent award (e.g. 鄂托克英才, 10,000 yuan): the amount comes from the award type."""

    model_config = ConfigDict(extra="forbid")
    worker_id: uuid.UUID
    award_type: str = Field(min_length=1, max_length=100, examples=["otog-talent"])
    title: str | None = Field(None, min_length=1, max_length=200, examples=["2026年度鄂托克英才"])
    awarded_on: date = Field(description="an ISO date (YYYY-MM-DD) from 2000-01-01 to today")

    @field_validator("awarded_on", mode="before")
    @classmethod
    def _iso_date_only(cls, value):
        if not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
            raise ValueError("an ISO date string (YYYY-MM-DD) is required, not a number")
        return value

    @field_validator("awarded_on")
    @classmethod
    def _sane(cls, value: date) -> date:
        today = bureau_today()
        if not date(2000, 1, 1) <= value <= today:
            raise ValueError(f"must be between 2000-01-01 and today ({today.isoformat()})")
        return value


class AwardDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=2000)


class AwardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    worker_id: uuid.UUID
    award_type: str
    title: str
    amount_fen: int
    awarded_on: date
    status: Literal["recorded", "approved", "rejected"]
    recorded_by: str
    decided_by: str | None
    created_at: datetime


class AwardTypeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    amount_fen: int


class RecoveryRead(BaseModel):
    """A recovery entry: `amount_fen` taken back from the month's net (`paid_fen` before, `due_fen` now)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    worker_id: uuid.UUID
    policy: str | None = Field(validation_alias="policy_code")
    disbursement_id: uuid.UUID | None
    month: str | None
    amount_fen: int
    due_fen: int | None
    rule: str | None
    reason: str | None
    created_at: datetime


class RepaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: Fen = Field(gt=0)
    note: str | None = Field(None, max_length=2000)


class RepaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    worker_id: uuid.UUID
    amount_fen: int
    note: str | None
    recorded_by: str
    recorded_at: datetime


class WriteOffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: Fen = Field(gt=0)
    reason: str = Field(min_length=1, max_length=2000)


class WriteOffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    worker_id: uuid.UUID
    amount_fen: int
    reason: str
    status: Literal["proposed", "approved", "rejected"]
    proposed_by: str
    decided_by: str | None
    proposed_at: datetime


class ReceivableRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    worker_id: uuid.UUID
    recovered_fen: int
    set_off_fen: int
    repaid_fen: int
    written_off_fen: int
    balance_fen: int
