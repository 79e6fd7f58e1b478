"""Worker, registration, training and honour schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.registry.common import Level, NotFutureDate
from services.registry.employments.schemas import EmploymentCreate
from services.registry.privacy.service import PURPOSE_HELP, PURPOSE_MAX, UNMASK_HELP
from shared.pagination import CURSOR_HELP, MAX_LIMIT, PageParams
from shared.validators import normalize_id_number

PHONE_PATTERN = r"^1\d{10}$"


class WorkerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "秦建", "id_number": "150624197406182317", "phone": "13363581984", "education": "大专",
         "political_status": "群众", "full_time": True}]})

    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(description="resident ID number (居民身份证号码, GB 11643)")
    gender: Literal["male", "female"] | None = Field(default=None, description="derived from the ID number")
    birth_date: date | None = Field(default=None, description="derived from the ID number; checked against it")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    education: str | None = Field(default=None, max_length=50, description="学历")
    political_status: str | None = Field(default=None, max_length=50, description="政治面貌")
    full_time: bool = Field(default=True, description="是否专职")
    notes: str | None = Field(default=None, max_length=2000)
    employment: EmploymentCreate | None = Field(
        default=None, description="first employment; a station manager must give one at their station")

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str) -> str:
        return normalize_id_number(value)


class WorkerRead(BaseModel):
    id: uuid.UUID
    name: str
    gender: str
    birth_date: date | None = Field(description="null unless a bureau_admin unmasks (unmask=true&purpose=...)")
    birth_year: int
    id_number: str = Field(description="masked (150624**********17) unless a bureau_admin unmasks "
                                       "(unmask=true&purpose=...; the look is recorded)")
    phone: str | None = Field(description="masked (133****1984) unless a bureau_admin unmasks")
    education: str | None
    political_status: str | None
    full_time: bool
    notes: str | None
    registered_on: date | None
    registration_division_code: str | None
    created_at: datetime
    updated_at: datetime


class RegistrationCreate(BaseModel):
    """Registration with the civil affairs bureau (在民政局登记)."""

    model_config = ConfigDict(extra="forbid")

    registered_on: NotFutureDate
    division_code: str | None = Field(default=None, pattern=r"^\d{6,12}$")


class TrainingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["exam_preparation", "supervision", "study_visit", "other"] = Field(
        description="exam_preparation 考前培训, supervision 督导, study_visit 参访学习, other 其他")
    title: str = Field(min_length=1, max_length=200)
    hours: float = Field(gt=0, le=10000)
    start_date: date
    end_date: date

    @model_validator(mode="after")
    def _dates(self):
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class TrainingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    worker_id: uuid.UUID
    kind: str
    title: str
    hours: float
    start_date: date
    end_date: date
    created_at: datetime


class HonourCreate(BaseModel):
    """An honour or commendation (荣誉表彰)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    awarded_on: NotFutureDate
    level: str = Field(min_length=1, max_length=50, description="e.g. national, provincial, municipal, banner")


class HonourRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    worker_id: uuid.UUID
    title: str
    awarded_on: date
    level: str
    created_at: datetime


class WorkerUpdate(BaseModel):
    """Changeable facts of a person; the ID number (and the birth date and gender it fixes) never change here."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    education: str | None = Field(default=None, max_length=50)
    political_status: str | None = Field(default=None, max_length=50)
    full_time: bool | None = None
    notes: str | None = Field(default=None, max_length=2000)


class WorkerListQuery(BaseModel):
    """The query string of `GET /v1/workers`, validated in one call (`services.registry.deps.query_model`): its
    filters, the page (`shared.pagination.page_params`) and the unmasking (`privacy.service.disclosure`), in the
    order and with the limits those declare."""

    station_id: uuid.UUID | None = None
    level: Level | None = None
    registered: bool | None = None
    q: str | None = Field(default=None, max_length=100)
    cursor: str | None = Field(default=None, description=CURSOR_HELP)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    unmask: bool = Field(default=False, description=UNMASK_HELP)
    purpose: str | None = Field(default=None, max_length=PURPOSE_MAX, description=PURPOSE_HELP)

    @property
    def page(self) -> PageParams:
        return PageParams(cursor=self.cursor, limit=self.limit)
