"""Certificate schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.registry.common import Level, NotFutureDate


class CertificateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"level": "assistant", "certificate_no": "2020094011", "obtained_on": "2020-12-25"}]})

    level: Level = Field(description="assistant 助理社会工作师, intermediate 社会工作师, senior 高级社会工作师")
    certificate_no: str = Field(min_length=1, max_length=64)
    obtained_on: NotFutureDate
    platform_registered_on: NotFutureDate | None = Field(
        default=None, description="registration on the national social-work platform; valid three years")
    continuing_education_hours: float = Field(default=0, ge=0, le=10000)

    @model_validator(mode="after")
    def _order(self):
        if self.platform_registered_on is not None and self.platform_registered_on < self.obtained_on:
            raise ValueError("platform_registered_on is before obtained_on")
        return self


class CertificateRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoked_on: NotFutureDate
    reason: str = Field(min_length=1, max_length=500)


class CertificateReject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class CertificateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    worker_id: uuid.UUID
    level: Level
    certificate_no: str
    obtained_on: date
    platform_registered_on: date | None
    platform_registration_expires_on: date | None
    continuing_education_hours: float
    status: str
    revoked_on: date | None
    revoke_reason: str | None
    verification: Literal["claimed", "verified", "rejected"] = Field(
        description="claimed: recorded by a station manager or an untrusted HR system, not counted (no "
                    "certificate-issued) until a bureau_admin other than the recorder verifies it")
    recorded_by: str | None
    verified_by: str | None
    verified_at: datetime | None
    rejection_reason: str | None
    created_at: datetime
