"""Ledger schemas: batches, lines, marks, awards, recoveries."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.money import Fen
from shared.validators import MONTH_PATTERN

MONTH = MONTH_PATTERN


class DisbursementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(min_length=1, max_length=100, examples=["otog-talent-subsidy"])
    month: str = Field(pattern=MONTH, examples=["2024-12"])


class DisbursementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    policy: str = Field(validation_alias="policy_code")
    month: str
    line_count: int
    total_fen: int
    created_by: str
    created_at: datetime


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: Literal["subsidy", "award"]
    worker_id: uuid.UUID
    policy: str | None = Field(validation_alias="policy_code")
    disbursement_id: uuid.UUID | None
    month: str | None
    level: str | None
    amount_fen: int
    status: Literal["pending", "paid", "failed"]
    failure_reason: str | None
    title: str | None
    awarded_on: date | None


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
    """A one-off talent award (e.g. 鄂托克旗英才, 10,000 yuan) recorded in the same ledger."""

    model_config = ConfigDict(extra="forbid")
    worker_id: uuid.UUID
    title: str = Field(min_length=1, max_length=200, examples=["鄂托克旗英才"])
    amount_fen: Fen = Field(gt=0)
    awarded_on: date


class RecoveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    worker_id: uuid.UUID
    ledger_line_id: int
    certificate_id: uuid.UUID
    month: str
    paid_fen: int
    due_fen: int
    amount_fen: int
    reason: str
    status: str
    created_at: datetime
