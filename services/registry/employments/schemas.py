"""Employment schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EmploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"station_id": "00000000-0000-0000-0000-000000000000", "start_date": "2022-01-01", "full_time": True,
         "role": "社工站社工"}]})

    station_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    start_date: date
    end_date: date | None = None
    full_time: bool = Field(description="专职 (full-time) or 兼职")
    role: str = Field(min_length=1, max_length=100, description="岗位")

    @model_validator(mode="after")
    def _check(self):
        if self.station_id is None and self.organization_id is None:
            raise ValueError("station_id or organization_id is required")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class EmploymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    worker_id: uuid.UUID
    station_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    start_date: date
    end_date: date | None
    full_time: bool
    role: str
    confirmation: Literal["confirmed", "pending", "rejected"] = Field(
        description="pending: recorded by a station manager starting more than two months back; it does not "
                    "count until a bureau_admin confirms it")
    confirmed_by: str | None
    confirmed_at: datetime | None
    created_at: datetime
