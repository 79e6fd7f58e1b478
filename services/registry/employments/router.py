"""HTTP routes for employment."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select

from services.registry.employments import service
from services.registry.employments.models import Employment
from services.registry.employments.schemas import EmploymentCreate, EmploymentRead
from services.registry.workers import repository as workers
from services.registry.workers.repository import WRITERS
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(prefix="/v1", tags=["employments"])


@router.post("/workers/{worker_id}/employments", status_code=201, response_model=EmploymentRead,
             dependencies=[allow(*WRITERS)])
async def create_employment(worker_id: uuid.UUID, data: EmploymentCreate, session: SessionDep,
                            principal: CurrentPrincipal):
    """Record employment (任职); overlapping full-time employments are refused (409, field start_date). A station
    manager's employment starting more than two months back is `pending` until a bureau_admin confirms it."""
    await workers.get_writable(session, principal, worker_id)
    return await service.add_employment(session=session, principal=principal, worker_id=worker_id, data=data)


@router.get("/workers/{worker_id}/employments", response_model=Page[EmploymentRead])
async def list_employments(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                           params: Annotated[PageParams, Depends(page_params)]):
    await workers.get_readable(session, principal, worker_id)
    stmt = select(Employment).where(Employment.worker_id == worker_id)
    items, cursor = await paginate(session, stmt, params, keys=[Employment.created_at, Employment.id])
    return {"items": items, "next_cursor": cursor}


@router.post("/workers/{worker_id}/employments/{employment_id}/confirm", response_model=EmploymentRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def confirm_employment(worker_id: uuid.UUID, employment_id: uuid.UUID, session: SessionDep,
                             principal: CurrentPrincipal):
    """bureau_admin: a pending (back-dated) employment counts from now on."""
    return await service.decide(session=session, principal=principal, worker_id=worker_id,
                                employment_id=employment_id, confirm=True)


@router.post("/workers/{worker_id}/employments/{employment_id}/reject", response_model=EmploymentRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def reject_employment(worker_id: uuid.UUID, employment_id: uuid.UUID, session: SessionDep,
                            principal: CurrentPrincipal):
    """bureau_admin: a pending employment never counts."""
    return await service.decide(session=session, principal=principal, worker_id=worker_id,
                                employment_id=employment_id, confirm=False)


@router.get("/employment-claims", response_model=Page[EmploymentRead])
async def list_pending_employments(session: SessionDep, principal: CurrentPrincipal,
                                   params: Annotated[PageParams, Depends(page_params)]):
    """Employments awaiting the bureau's confirmation (bureau_admin, auditor)."""
    principal.require(Role.BUREAU_ADMIN, Role.AUDITOR)
    items, cursor = await paginate(session, service.pending_statement(), params,
                                   keys=[Employment.created_at, Employment.id])
    return {"items": items, "next_cursor": cursor}
