"""HTTP endpoints of fund calls."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.projects.calls import service
from services.projects.calls.schemas import CallCreate, CallRead
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/v1/calls", tags=["calls"])


@router.post("", status_code=201, response_model=CallRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def create_call(data: CallCreate, session: SessionDep, principal: CurrentPrincipal) -> CallRead:
    """Open a fund call (bureau_admin)."""
    return CallRead.of(await service.create_call(session=session, principal=principal, data=data))


@router.get("", response_model=Page[CallRead])
async def list_calls(session: SessionDep, principal: CurrentPrincipal,
                     params: Annotated[PageParams, Depends(page_params)],
                     year: Annotated[int | None, Query()] = None) -> Page[CallRead]:
    """Fund calls are public to every signed-in caller."""
    rows, cursor = await service.list_calls(session=session, params=params, year=year)
    return Page[CallRead](items=[CallRead.of(c) for c in rows], next_cursor=cursor)


@router.get("/{call_id}", response_model=CallRead)
async def get_call(call_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> CallRead:
    return CallRead.of(await service.get_call(session=session, call_id=call_id))
