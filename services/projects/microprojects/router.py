"""HTTP endpoints of micro-projects and their lifecycle."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query

from services.projects.common import ClockDep, RegistryDep
from services.projects.microprojects import repository, service
from services.projects.microprojects.schemas import Approval, Decision, ProjectCreate, ProjectRead
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/v1/projects", tags=["projects"])
Status = Literal["draft", "submitted", "approved", "rejected", "in_progress", "completed", "closed"]


@router.post("", status_code=201, response_model=ProjectRead,
             dependencies=[allow(Role.STATION_MANAGER, Role.BUREAU_ADMIN)])
async def create_project(data: ProjectCreate, session: SessionDep, principal: CurrentPrincipal,
                         registry: RegistryDep) -> ProjectRead:
    """A draft micro-project under a fund call (station_manager for own stations, bureau_admin)."""
    project = await service.create_project(session=session, principal=principal, registry=registry, data=data)
    return ProjectRead.model_validate(project)


@router.get("", response_model=Page[ProjectRead])
async def list_projects(session: SessionDep, principal: CurrentPrincipal,
                        params: Annotated[PageParams, Depends(page_params)],
                        status: Annotated[Status | None, Query()] = None,
                        station_id: Annotated[UUID | None, Query()] = None,
                        call_id: Annotated[UUID | None, Query()] = None) -> Page[ProjectRead]:
    rows, cursor = await service.list_projects(session=session, principal=principal, params=params, status=status,
                                               station_id=station_id, call_id=call_id)
    return Page[ProjectRead](items=[ProjectRead.model_validate(p) for p in rows], next_cursor=cursor)


@router.get("/{project_id}", response_model=ProjectRead)
async def get_project(project_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ProjectRead:
    return ProjectRead.model_validate(await repository.get_readable(session, principal, project_id))


@router.post("/{project_id}/submit", response_model=ProjectRead)
async def submit_project(project_id: UUID, session: SessionDep, principal: CurrentPrincipal,
                         clock: ClockDep) -> ProjectRead:
    """draft -> submitted, only inside the call's window."""
    project = await service.submit(session=session, principal=principal, clock=clock, project_id=project_id)
    return ProjectRead.model_validate(project)


@router.post("/{project_id}/approve", response_model=ProjectRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def approve_project(project_id: UUID, data: Approval, session: SessionDep,
                          principal: CurrentPrincipal) -> ProjectRead:
    """submitted -> approved (bureau_admin); the approved budget must fit in what is left of the call."""
    project = await service.approve(session=session, principal=principal, project_id=project_id,
                                    approved_budget_fen=data.approved_budget_fen, reason=data.reason)
    return ProjectRead.model_validate(project)


@router.post("/{project_id}/reject", response_model=ProjectRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def reject_project(project_id: UUID, session: SessionDep, principal: CurrentPrincipal,
                         data: Annotated[Decision | None, Body()] = None) -> ProjectRead:
    """submitted -> rejected (bureau_admin)."""
    project = await service.reject(session=session, principal=principal, project_id=project_id,
                                   reason=data.reason if data else None)
    return ProjectRead.model_validate(project)


@router.post("/{project_id}/start", response_model=ProjectRead)
async def start_project(project_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ProjectRead:
    """approved -> in_progress: activities may be recorded from now on."""
    return ProjectRead.model_validate(await service.simple_step(
        session=session, principal=principal, project_id=project_id, action="start"))


@router.post("/{project_id}/complete", response_model=ProjectRead)
async def complete_project(project_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ProjectRead:
    """in_progress -> completed."""
    return ProjectRead.model_validate(await service.simple_step(
        session=session, principal=principal, project_id=project_id, action="complete"))


@router.post("/{project_id}/close", response_model=ProjectRead)
async def close_project(project_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ProjectRead:
    """completed -> closed (bureau_admin); the unspent budget returns to the call."""
    return ProjectRead.model_validate(await service.simple_step(
        session=session, principal=principal, project_id=project_id, action="close"))
