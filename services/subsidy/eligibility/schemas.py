"""Eligibility answer: a verdict per month, explained."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class MonthVerdictRead(BaseModel):
    month: str
    payable: bool
    rule: str
    reason: str
    level: str | None
    amount_fen: int | None
    net_fen: int = Field(0, description="the ledger's net for the month: paid and pending payments - recoveries")


class PayableMonth(BaseModel):
    month: str
    level: str
    amount_fen: int


class EligibilityRead(BaseModel):
    worker_id: uuid.UUID
    policy: str
    from_month: str
    through: str
    eligible: bool
    reasons: list[str]
    payable_months: list[PayableMonth]
    payable_total_fen: int
    months: list[MonthVerdictRead]


class LastEntry(BaseModel):
    kind: str
    amount_fen: int
    status: str
    rule: str | None
    reason: str | None
    disbursement_id: uuid.UUID | None
    created_at: datetime


class StatementMonth(BaseModel):
    month: str
    due_fen: int = Field(description="what the rules give on the facts known now")
    paid_fen: int = Field(description="payments (first payments and top-ups) the bank confirmed")
    pending_fen: int = Field(description="payments in a batch the bank has not confirmed yet")
    top_ups_fen: int
    recovered_fen: int
    failed_fen: int
    net_fen: int = Field(description="paid + pending - recovered")
    rule: str | None
    reason: str | None
    level: str | None
    last_entry: LastEntry | None = Field(description="the latest ledger entry of the month and why it was made")


class StatementRead(BaseModel):
    worker_id: uuid.UUID
    policy: str
    from_month: str
    through: str
    due_fen: int
    net_fen: int
    months: list[StatementMonth]
