"""HTTP: disbursement batches, their lines and exports, awards, recoveries, a worker's payments."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from services.subsidy.access import ensure_readable
from services.subsidy.ledger import service
from services.subsidy.ledger.models import LedgerLine, RecoveryItem
from services.subsidy.ledger.schemas import (
    AwardCreate,
    DisbursementCreate,
    DisbursementRead,
    LineMark,
    LineRead,
    RecoveryRead,
)
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(tags=["disbursements"])
Params = Annotated[PageParams, Depends(page_params)]


@router.post("/v1/disbursements", response_model=DisbursementRead, status_code=201,
             responses={200: {"model": DisbursementRead, "description": "the month's batch already exists"}})
async def create_disbursement(body: DisbursementCreate, session: SessionDep, principal: CurrentPrincipal,
                              response: Response):
    """The month's batch: every payable month up to `month` not yet in a batch, for every approved application."""
    batch, created = await service.create_batch(session=session, principal=principal, policy_code=body.policy,
                                                month=body.month)
    if not created:
        response.status_code = 200
    return batch


@router.get("/v1/disbursements/{disbursement_id}", response_model=DisbursementRead)
async def get_disbursement(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await service.get_batch(session=session, principal=principal, batch_id=disbursement_id)


@router.get("/v1/disbursements/{disbursement_id}/lines", response_model=Page[LineRead])
async def list_disbursement_lines(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                                  params: Params):
    await service.get_batch(session=session, principal=principal, batch_id=disbursement_id)
    items, cursor = await paginate(session, service.batch_lines(principal, disbursement_id), params,
                                   keys=[LedgerLine.id], kinds=[int])
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/disbursements/{disbursement_id}/export", response_class=Response, responses={200: {
    "description": "the batch as a file",
    "content": {"text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}}}})
async def export_disbursement(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                              request: Request, format: Annotated[Literal["csv", "xlsx"], Query()] = "csv"):
    """CSV (UTF-8 with BOM) or XLSX: worker, name and masked ID number from the registry, month, amount, total."""
    body, media_type, filename = await service.export_batch(
        session=session, principal=principal, batch_id=disbursement_id, fmt=format,
        registry=getattr(request.app.state, "registry", None))
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/v1/disbursements/{disbursement_id}/lines/{line_id}/mark", response_model=LineRead)
async def mark_disbursement_line(disbursement_id: uuid.UUID, line_id: int, body: LineMark, session: SessionDep,
                                 principal: CurrentPrincipal):
    """Paid or failed (a failed month is paid again by a later batch)."""
    return await service.mark_line(session=session, principal=principal, batch_id=disbursement_id, line_id=line_id,
                                   status=body.status, reason=body.reason)


@router.post("/v1/awards", response_model=LineRead, status_code=201, tags=["awards"])
async def create_award(body: AwardCreate, session: SessionDep, principal: CurrentPrincipal):
    return await service.record_award(session=session, principal=principal, data=body)


@router.get("/v1/workers/{worker_id}/payments", response_model=Page[LineRead], tags=["payments"])
async def list_worker_payments(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                               params: Params):
    """A worker's ledger: subsidy months and awards (the worker sees only their own; others get 404)."""
    await ensure_readable(session=session, principal=principal, worker_id=worker_id)
    items, cursor = await paginate(session, service.worker_payments(principal, worker_id), params,
                                   keys=[LedgerLine.id], kinds=[int])
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/recoveries", response_model=Page[RecoveryRead], tags=["recoveries"])
async def list_recoveries(session: SessionDep, principal: CurrentPrincipal, params: Params):
    """Money paid for months a revoked certificate no longer covers."""
    items, cursor = await paginate(session, service.recoveries(principal), params,
                                   keys=[RecoveryItem.created_at, RecoveryItem.id])
    return {"items": items, "next_cursor": cursor}
