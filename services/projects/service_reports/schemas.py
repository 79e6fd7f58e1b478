"""Monthly station service report payloads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.projects.common import Month


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: UUID
    full_time: bool
    # A month has at most 744 hours; two decimals are kept.
    service_hours: Decimal = Field(ge=0, le=744, max_digits=5, decimal_places=2)


class ReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "station_id": "0f4b2a8e-8a57-4a0f-8c5e-2b9a4c1d7e33", "month": "2024-05",
        "entries": [{"worker_id": "9a1c1b5e-6f0e-4a43-8bde-0e3b2b5e8c11", "full_time": True,
                     "service_hours": 168}]}]})

    station_id: UUID
    month: Month
    entries: list[EntryIn] = Field(min_length=1, max_length=2000)


class Amendment(BaseModel):
    """Entries to change or add; entries not listed stay as they are (send all or only the changed ones)."""

    model_config = ConfigDict(extra="forbid")

    entries: list[EntryIn] = Field(min_length=1, max_length=2000)


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    worker_id: UUID
    full_time: bool
    service_hours: float
    revision: int


class ReportRead(BaseModel):
    id: UUID
    station_id: UUID
    month: str
    status: Literal["draft", "awaiting_bureau", "confirmed"] = Field(
        description="awaiting_bureau: a station manager confirmed a month more than two months back; it counts "
                    "(service-month events) once a bureau_admin confirms it")
    entries: list[EntryRead]
    created_at: datetime
    confirmed_at: datetime | None
    amended_at: datetime | None


class AmendmentResult(ReportRead):
    changed_worker_ids: list[UUID]
