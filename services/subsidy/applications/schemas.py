"""Application schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker_id: uuid.UUID
    policy: str = Field(min_length=1, max_length=100, examples=["otog-talent-subsidy"])


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    worker_id: uuid.UUID
    policy: str = Field(validation_alias="policy_code")
    status: Literal["submitted", "approved", "rejected"]
    submitted_by: str
    reviewed_by: str | None
    decision_reason: str | None
    created_at: datetime
    decided_at: datetime | None
