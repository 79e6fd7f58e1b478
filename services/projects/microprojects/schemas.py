"""Micro-project payloads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.projects.calls.schemas import Category
from shared.money import Fen


class PartnerKind(StrEnum):
    """The five societies of 五社联动."""

    community = "community"  # 社区
    social_organization = "social_organization"  # 社会组织
    social_worker = "social_worker"  # 社会工作者
    volunteer = "volunteer"  # 社区志愿者
    charitable_resource = "charitable_resource"  # 社会慈善资源


class Partner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: PartnerKind
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(default="", max_length=500)
    contribution: str = Field(default="", max_length=1000)


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "call_id": "5b0c8f0e-3f43-4a3c-9d37-0d6f5a1d9a10", "station_id": "0f4b2a8e-8a57-4a0f-8c5e-2b9a4c1d7e33",
        "lead_organization": "乌兰镇社工站", "title": "银龄互助", "category": "elderly",
        "goals": "为独居老人提供每周探访", "partners": [{"kind": "volunteer", "name": "乌兰镇志愿者协会",
                                                   "role": "探访", "contribution": "每周 20 小时"}],
        "requested_budget_fen": 2_000_000}]})

    call_id: UUID
    station_id: UUID
    lead_organization: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)
    category: Category
    goals: str = Field(min_length=1, max_length=5000)
    partners: list[Partner] = Field(default_factory=list, max_length=50)
    requested_budget_fen: Fen = Field(gt=0)


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved_budget_fen: Fen = Field(gt=0)
    reason: str | None = Field(default=None, max_length=2000)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    call_id: UUID
    station_id: UUID
    lead_organization: str
    title: str
    category: Category
    goals: str
    partners: list[Partner]
    requested_budget_fen: int
    approved_budget_fen: int | None
    spent_fen: int
    status: str
    decision_reason: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
