"""Activity (service record) payloads and the summaries built from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.money import Fen
from shared.validators import Count


class Beneficiaries(BaseModel):
    """People served, by the bureau's target groups (一老一小一困一残 and the groups named beside them)."""

    model_config = ConfigDict(extra="forbid")

    elderly: Count = 0  # 一老
    children: Count = 0  # 一小
    hardship: Count = 0  # 一困: 低保, 特困
    disability: Count = 0  # 一残
    living_alone: Count = 0  # 独居
    empty_nest: Count = 0  # 空巢
    left_behind: Count = 0  # 留守
    incapacitated: Count = 0  # 失能
    severely_disabled: Count = 0  # 重残
    women: Count = 0  # 妇女
    self_governance: Count = 0  # 居民自治 participants
    other: Count = 0


class CharitableResource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=500)
    amount_fen: Fen = 0


class ActivityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "date": "2024-05-12", "title": "独居老人探访", "worker_ids": ["9a1c1b5e-6f0e-4a43-8bde-0e3b2b5e8c11"],
        "beneficiaries": {"elderly": 12, "living_alone": 5}, "volunteer_count": 6, "volunteer_hours": 18,
        "charitable_resources": [{"description": "爱心企业捐赠米面油", "amount_fen": 150000}],
        "expense_fen": 80000}]})

    date: dt.date
    title: str = Field(min_length=1, max_length=200)
    worker_ids: list[UUID] = Field(min_length=1, max_length=100)
    beneficiaries: Beneficiaries = Field(default_factory=Beneficiaries)
    volunteer_count: Count = 0
    volunteer_hours: Decimal = Field(default=Decimal(0), ge=0, max_digits=10, decimal_places=2)
    charitable_resources: list[CharitableResource] = Field(default_factory=list, max_length=50)
    expense_fen: Fen = 0


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    project_id: UUID
    station_id: UUID
    date: dt.date
    title: str
    worker_ids: list[UUID]
    beneficiaries: dict[str, int]
    volunteer_count: int
    volunteer_hours: float
    charitable_resources: list[CharitableResource]
    expense_fen: int
    created_at: dt.datetime


class MonthFigures(BaseModel):
    month: str
    activities: int
    expense_fen: int
    volunteer_count: int
    volunteer_hours: float
    charitable_fen: int
    beneficiaries: dict[str, int]


class Budget(BaseModel):
    approved_fen: int
    spent_fen: int
    remaining_fen: int


class ProjectSummary(BaseModel):
    project_id: UUID
    status: str
    budget: Budget
    totals: MonthFigures
    by_month: list[MonthFigures]


class StationSummary(BaseModel):
    station_id: UUID
    from_month: str | None
    to_month: str | None
    projects_by_status: dict[str, int]
    budget: Budget
    spent_in_range_fen: int
    totals: MonthFigures
    by_month: list[MonthFigures]
