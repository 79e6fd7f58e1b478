"""HTTP endpoints of monthly station service reports (the source of service-month events)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.projects.common import MONTH_PATTERN, ClockDep, RegistryDep
from services.projects.service_reports import service
from services.projects.service_reports.models import ServiceReport
from services.projects.service_reports.schemas import (
    Amendment,
    AmendmentResult,
    EntryRead,
    ReportCreate,
    ReportRead,
)
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/v1/service-reports", tags=["service-reports"])


def _read(report: ServiceReport, entries) -> ReportRead:
    return ReportRead(id=report.id, station_id=report.station_id, month=report.month, status=report.status,
                      entries=[EntryRead.model_validate(e) for e in entries], created_at=report.created_at,
                      confirmed_at=report.confirmed_at, amended_at=report.amended_at)


async def _with_entries(session, report: ServiceReport) -> ReportRead:
    return _read(report, (await service.entries_of(session, [report.id]))[report.id])


@router.post("", status_code=201, response_model=ReportRead,
             dependencies=[allow(Role.STATION_MANAGER, Role.BUREAU_ADMIN)])
async def create_service_report(data: ReportCreate, session: SessionDep, principal: CurrentPrincipal,
                                registry: RegistryDep, clock: ClockDep) -> ReportRead:
    """A draft report of one station and month; every worker must be employed there that month."""
    report = await service.create_report(session=session, principal=principal, registry=registry, clock=clock,
                                         data=data)
    return await _with_entries(session, report)


@router.get("", response_model=Page[ReportRead])
async def list_service_reports(session: SessionDep, principal: CurrentPrincipal,
                               params: Annotated[PageParams, Depends(page_params)],
                               station_id: Annotated[UUID | None, Query()] = None,
                               month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None,
                               status: Annotated[Literal["draft", "awaiting_bureau", "confirmed"] | None,
                                                 Query()] = None,
                               ) -> Page[ReportRead]:
    rows, cursor = await service.list_reports(session=session, principal=principal, params=params,
                                              station_id=station_id, month=month, status=status)
    entries = await service.entries_of(session, [r.id for r in rows])
    return Page[ReportRead](items=[_read(r, entries[r.id]) for r in rows], next_cursor=cursor)


@router.get("/{report_id}", response_model=ReportRead)
async def get_service_report(report_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ReportRead:
    return await _with_entries(session, await service.get_readable(session, principal, report_id))


@router.post("/{report_id}/confirm", response_model=ReportRead)
async def confirm_service_report(report_id: UUID, session: SessionDep, principal: CurrentPrincipal,
                                 clock: ClockDep) -> ReportRead:
    """draft -> confirmed; emits one service-month event (revision 1) per entry through the outbox. A station
    manager's confirmation of a month more than two months back only moves it to awaiting_bureau (no events);
    a bureau_admin's confirmation of that makes it count."""
    report = await service.confirm(session=session, principal=principal, clock=clock, report_id=report_id)
    return await _with_entries(session, report)


@router.post("/{report_id}/amend", response_model=AmendmentResult,
             dependencies=[allow(Role.STATION_MANAGER, Role.BUREAU_ADMIN)])
async def amend_service_report(report_id: UUID, data: Amendment, session: SessionDep, principal: CurrentPrincipal,
                               registry: RegistryDep, clock: ClockDep) -> AmendmentResult:
    """Change or add entries of a confirmed month; each changed entry emits a new event with revision + 1.
    Months more than two months back are amended by the bureau only."""
    report, changed = await service.amend(session=session, principal=principal, registry=registry, clock=clock,
                                          report_id=report_id, entries=data.entries)
    read = await _with_entries(session, report)
    return AmendmentResult(**read.model_dump(), changed_worker_ids=changed)
