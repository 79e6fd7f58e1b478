"""HTTP endpoints of activities and the project and station summaries."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.projects.activities import service
from services.projects.activities.schemas import ActivityCreate, ActivityRead, ProjectSummary, StationSummary
from services.projects.common import MONTH_PATTERN, ClockDep, RegistryDep
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params

router = APIRouter(tags=["activities"])


@router.post("/v1/projects/{project_id}/activities", status_code=201, response_model=ActivityRead,
             dependencies=[allow(Role.STATION_MANAGER, Role.BUREAU_ADMIN)])
async def record_activity(project_id: UUID, data: ActivityCreate, session: SessionDep, principal: CurrentPrincipal,
                          registry: RegistryDep, clock: ClockDep) -> ActivityRead:
    """A service record of a project in progress; its expense counts against the approved budget."""
    activity = await service.record_activity(session=session, principal=principal, registry=registry, clock=clock,
                                             project_id=project_id, data=data)
    return ActivityRead.model_validate(activity)


@router.get("/v1/projects/{project_id}/activities", response_model=Page[ActivityRead])
async def list_activities(project_id: UUID, session: SessionDep, principal: CurrentPrincipal,
                          params: Annotated[PageParams, Depends(page_params)]) -> Page[ActivityRead]:
    rows, cursor = await service.list_activities(session=session, principal=principal, project_id=project_id,
                                                 params=params)
    return Page[ActivityRead](items=[ActivityRead.model_validate(a) for a in rows], next_cursor=cursor)


@router.get("/v1/projects/{project_id}/summary", response_model=ProjectSummary)
async def project_summary(project_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ProjectSummary:
    """By month: activities, beneficiaries by target group, volunteer hours, spend against the budget."""
    return await service.project_summary(session=session, principal=principal, project_id=project_id)


@router.get("/v1/stations/{station_id}/summary", response_model=StationSummary)
async def station_summary(station_id: UUID, session: SessionDep, principal: CurrentPrincipal,
                          from_month: Annotated[str | None, Query(alias="from", pattern=MONTH_PATTERN)] = None,
                          to_month: Annotated[str | None, Query(alias="to", pattern=MONTH_PATTERN)] = None,
                          ) -> StationSummary:
    """A station's micro-project work in a month range (inclusive)."""
    return await service.station_summary(session=session, principal=principal, station_id=station_id,
                                         from_month=from_month, to_month=to_month)
