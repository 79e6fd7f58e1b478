"""Eligibility answer: a verdict per month, explained."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class MonthVerdictRead(BaseModel):
    month: str
    payable: bool
    rule: str
    reason: str
    level: str | None
    amount_fen: int | None


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
