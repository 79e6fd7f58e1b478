"""Bank account schemas: the number is normalised and checked here, masked in every answer unless unmasked."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ACCOUNT_RE = re.compile(r"^[0-9]{12,30}$")


def normalize_account_number(raw: str) -> str:
    """Digits only: NFKC (full-width digits), spaces, dashes and dots dropped; 12 to 30 digits (bank cards have
    16-19, passbook and old accounts more). Raises ValueError saying what is wrong."""
    value = re.sub(r"[\s\-.]", "", unicodedata.normalize("NFKC", raw or ""))
    if not ACCOUNT_RE.match(value):
        raise ValueError("a bank account number has 12 to 30 digits (spaces and dashes are ignored)")
    return value


def mask_account_number(number: str) -> str:
    """`6222 **** **** 1234`: the bank's prefix and the last four, whatever the length (the length is hidden)."""
    return f"{number[:4]} **** **** {number[-4:]}"


def normalize_name(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


class BankAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"bank_name": "内蒙古农村信用社", "account_number": "6222 0212 3456 7891 234", "holder_name": "秦建"}]})

    bank_name: str = Field(min_length=1, max_length=100, description="开户银行")
    account_number: str = Field(min_length=1, max_length=60, description="银行账号 (12-30 digits)")
    holder_name: str = Field(min_length=1, max_length=100, description="户名: must be the worker's name")

    @field_validator("account_number")
    @classmethod
    def _account(cls, value: str) -> str:
        return normalize_account_number(value)

    @field_validator("bank_name", "holder_name")
    @classmethod
    def _text(cls, value: str) -> str:
        value = normalize_name(value)
        if not value:
            raise ValueError("must not be blank")
        return value


class BankAccountDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=2000)


class BankAccountRead(BaseModel):
    id: uuid.UUID
    worker_id: uuid.UUID
    bank_name: str
    account_number: str = Field(description="masked (6222 **** **** 1234) unless a bureau_admin unmasks "
                                            "(unmask=true&purpose=...; the look is recorded)")
    holder_name: str
    status: Literal["pending", "verified", "rejected", "superseded"]
    recorded_by: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    created_at: datetime
