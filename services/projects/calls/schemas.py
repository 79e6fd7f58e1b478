"""Fund call payloads."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.money import Fen


class Category(StrEnum):
    """What a micro-project is for: the bureau's target groups and the five-society themes."""

    elderly = "elderly"  # 一老
    children = "children"  # 一小
    hardship = "hardship"  # 一困 (低保, 特困)
    disability = "disability"  # 一残
    women = "women"  # 妇女
    self_governance = "self_governance"  # 居民自治
    social_organizations = "social_organizations"  # 社会组织培育
    volunteering = "volunteering"  # 社区志愿服务
    charitable_resources = "charitable_resources"  # 社会慈善资源
    other = "other"


class CallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "year": 2024, "title": "2024年社区发展基金小微项目", "total_budget_fen": 50_000_000,
        "categories": ["elderly", "children"], "window_opens": "2024-03-01", "window_closes": "2024-04-30",
        "division_code": "150624"}]})

    year: int = Field(ge=2000, le=2100)
    title: str = Field(min_length=1, max_length=200)
    total_budget_fen: Fen = Field(gt=0)
    categories: list[Category] = Field(min_length=1)
    window_opens: date
    window_closes: date
    division_code: str = Field(pattern=r"^\d{6}(\d{3})?(\d{3})?$", examples=["150624"])


class CallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    year: int
    title: str
    total_budget_fen: int
    allocated_fen: int
    remaining_fen: int
    categories: list[Category]
    window_opens: date
    window_closes: date
    division_code: str
    created_at: datetime

    @classmethod
    def of(cls, call) -> CallRead:
        return cls.model_validate({**{k: getattr(call, k) for k in (
            "id", "year", "title", "total_budget_fen", "allocated_fen", "categories", "window_opens",
            "window_closes", "division_code", "created_at")},
            "remaining_fen": call.total_budget_fen - call.allocated_fen})
