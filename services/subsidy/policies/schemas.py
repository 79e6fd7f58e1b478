"""Policy schemas: versions are created, never edited once they have paid."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.money import RateFen

# A policy date decides everyone's eligibility: a typo such as 0009-01-01 or 6015-02-12 must be refused
# (422 naming the field), not stored.
PolicyDate = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31),
                                   description="between 2000-01-01 and 2100-12-31")]


class PolicyVersionCreate(BaseModel):
    """A new version of an existing policy; omitted fields are taken from the latest version."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    division_code: str | None = Field(None, pattern=r"^\d{2,12}$")
    certificates_from: PolicyDate | None = None
    rate_senior_fen: RateFen | None = None
    rate_intermediate_fen: RateFen | None = None
    rate_assistant_fen: RateFen | None = None
    qualifying_months: int | None = Field(None, ge=1, le=120)
    cap_months: int | None = Field(None, ge=1, le=600)
    effective_from: PolicyDate
    effective_to: PolicyDate | None = None

    @model_validator(mode="after")
    def _period(self):
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self


class PolicyVersionUpdate(BaseModel):
    """Corrections to a version that has not paid anything yet (a version that has paid is immutable)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    division_code: str | None = Field(None, pattern=r"^\d{2,12}$")
    certificates_from: PolicyDate | None = None
    rate_senior_fen: RateFen | None = None
    rate_intermediate_fen: RateFen | None = None
    rate_assistant_fen: RateFen | None = None
    qualifying_months: int | None = Field(None, ge=1, le=120)
    cap_months: int | None = Field(None, ge=1, le=600)
    effective_from: PolicyDate | None = None
    effective_to: PolicyDate | None = None


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    code: str
    version: int
    name: str
    division_code: str = Field(description="jurisdiction: the bureau's administrative division code")
    certificates_from: date
    rate_senior_fen: int
    rate_intermediate_fen: int
    rate_assistant_fen: int
    qualifying_months: int
    cap_months: int
    effective_from: date
    effective_to: date | None
    created_at: datetime
