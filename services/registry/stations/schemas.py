"""Station and organization schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.validators import normalize_credit_code


class StationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "乌兰镇社工站", "kind": "township", "division_code": "150624100", "star_rating": 10}]})

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["centre", "township"]
    parent_id: uuid.UUID | None = None
    division_code: str = Field(pattern=r"^\d{6,12}$")
    star_rating: int | None = Field(default=None, ge=1, le=10)
    operating_organization_id: uuid.UUID | None = None


class StationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    parent_id: uuid.UUID | None
    division_code: str
    star_rating: int | None
    operating_organization_id: uuid.UUID | None = None
    created_at: datetime


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100, description="e.g. social_work_agency, foundation")
    credit_code: str = Field(description="unified social credit code (统一社会信用代码, GB 32100)")

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, value: str) -> str:
        return normalize_credit_code(value)


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    type: str
    credit_code: str
    created_at: datetime
