"""HTTP: applications and their review."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from services.subsidy.applications import service
from services.subsidy.applications.models import Application
from services.subsidy.applications.schemas import ApplicationCreate, ApplicationRead, Approval, Rejection
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(prefix="/v1/applications", tags=["applications"])


@router.post("", response_model=ApplicationRead, status_code=201,
             dependencies=[allow(Role.BUREAU_ADMIN, Role.STATION_MANAGER, Role.SOCIAL_WORKER)])
async def create_application(body: ApplicationCreate, session: SessionDep, principal: CurrentPrincipal):
    """By the worker themselves, their station manager or bureau staff; one open application per policy."""
    return await service.submit(session=session, principal=principal, worker_id=body.worker_id,
                                policy_code=body.policy)


@router.get("", response_model=Page[ApplicationRead])
async def list_applications(
    session: SessionDep, principal: CurrentPrincipal, params: Annotated[PageParams, Depends(page_params)],
    status: Literal["submitted", "approved", "rejected"] | None = None,
    policy: Annotated[str | None, Query(max_length=100)] = None, worker_id: uuid.UUID | None = None,
):
    stmt = service.readable(principal)
    if status:
        stmt = stmt.where(Application.status == status)
    if policy:
        stmt = stmt.where(Application.policy_code == policy)
    if worker_id:
        stmt = stmt.where(Application.worker_id == worker_id)
    items, cursor = await paginate(session, stmt, params, keys=[Application.created_at, Application.id])
    return {"items": items, "next_cursor": cursor}


@router.get("/{application_id}", response_model=ApplicationRead)
async def get_application(application_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await service.get(session=session, principal=principal, application_id=application_id)


@router.post("/{application_id}/approve", response_model=ApplicationRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def approve_application(application_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                              body: Approval | None = None):
    return await service.decide(session=session, principal=principal, application_id=application_id,
                                approve=True, reason=body.note if body else None)


@router.post("/{application_id}/reject", response_model=ApplicationRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def reject_application(application_id: uuid.UUID, body: Rejection, session: SessionDep,
                             principal: CurrentPrincipal):
    return await service.decide(session=session, principal=principal, application_id=application_id,
                                approve=False, reason=body.reason)
