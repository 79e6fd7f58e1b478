"""HTTP: disbursement batches, their lines and exports, awards, recoveries, a worker's payments."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from services.subsidy.access import ensure_readable
from services.subsidy.ledger import awards, receivables, service
from services.subsidy.ledger.models import Award, Disbursement, DisbursementWorker, LedgerLine, WriteOff
from services.subsidy.ledger.schemas import (
    AwardCreate,
    AwardDecision,
    AwardRead,
    AwardTypeRead,
    DisbursementCreate,
    DisbursementListItem,
    DisbursementRead,
    DisbursementWorkerRead,
    LineMark,
    LineRead,
    ReceivableRead,
    RecoveryRead,
    RepaymentCreate,
    RepaymentRead,
    WriteOffCreate,
    WriteOffRead,
)
from shared import audit
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, paginate
from shared.validators import MONTH_PATTERN

router = APIRouter(tags=["disbursements"])
Params = Annotated[PageParams, Depends(page_params)]
# Money moves only by the bureau: other roles get 403 before the body is read (as on every other write).
BUREAU = [allow(Role.BUREAU_ADMIN)]


@router.post("/v1/disbursements", response_model=DisbursementRead, status_code=201,
             responses={200: {"model": DisbursementRead, "description": "the month's batch already exists"}},
             dependencies=BUREAU)
async def create_disbursement(body: DisbursementCreate, session: SessionDep, principal: CurrentPrincipal,
                              response: Response):
    """The month's batch (a month that has begun in Asia/Shanghai): for every approved application, every month
    up to `month` settled to what is due now (new months, top-ups, recoveries), approved awards not yet paid,
    and per worker the set-off of what they owe against what they are paid."""
    batch, created = await service.create_batch(session=session, principal=principal, policy_code=body.policy,
                                                month=body.month)
    if not created:
        response.status_code = 200
    return batch


@router.get("/v1/disbursements", response_model=Page[DisbursementListItem])
async def list_disbursements(
    session: SessionDep, principal: CurrentPrincipal, params: Params,
    policy: Annotated[str | None, Query(max_length=100, description="only this policy's batches")] = None,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="only this month's (YYYY-MM)")] = None,
):
    """The batches, oldest first: each with its state in the payment cycle and its figures as created. Whoever
    may open a batch sees it listed (the bureau, auditors, station managers); anyone else gets an empty list."""
    stmt = service.batches(principal, policy_code=policy, month=month)
    items, cursor = await paginate(session, stmt, params, keys=[Disbursement.created_at, Disbursement.id])
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/disbursements/{disbursement_id}", response_model=DisbursementRead)
async def get_disbursement(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await service.get_batch(session=session, principal=principal, batch_id=disbursement_id)


@router.get("/v1/disbursements/{disbursement_id}/lines", response_model=Page[LineRead])
async def list_disbursement_lines(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                                  params: Params):
    await service.visible_batch(session, principal, disbursement_id)  # not its figures: an aggregate of every line
    items, cursor = await paginate(session, service.batch_lines(principal, disbursement_id), params,
                                   keys=[LedgerLine.id], kinds=[int])
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/disbursements/{disbursement_id}/workers", response_model=Page[DisbursementWorkerRead])
async def list_disbursement_workers(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                                    params: Params):
    """Per worker: new months, top-ups, awards, recoveries, set-off, net to pay (one transfer), receivable carried."""
    await service.visible_batch(session, principal, disbursement_id)
    items, cursor = await paginate(session, service.batch_workers(principal, disbursement_id), params,
                                   keys=[DisbursementWorker.worker_id], kinds=[uuid.UUID])
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
    await audit.record(session, action="export", entity="disbursements", entity_id=disbursement_id,
                       after={"format": format, "file": filename})
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/v1/disbursements/{disbursement_id}/lines/{line_id}/mark", response_model=LineRead, dependencies=BUREAU)
async def mark_disbursement_line(disbursement_id: uuid.UUID, line_id: int, body: LineMark, session: SessionDep,
                                 principal: CurrentPrincipal):
    """Paid or failed. The bank pays one transfer per worker and batch, so this marks every pending payment line of
    the line's worker in the batch; a failed transfer cancels its set-off and its months are due again (a new
    line in the next batch)."""
    return await service.mark_line(session=session, principal=principal, batch_id=disbursement_id, line_id=line_id,
                                   status=body.status, reason=body.reason)


@router.get("/v1/award-types", response_model=Page[AwardTypeRead], tags=["awards"])
async def list_award_types(session: SessionDep, principal: CurrentPrincipal):
    return {"items": list(await session.scalars(awards.types())), "next_cursor": None}


@router.post("/v1/awards", response_model=AwardRead, status_code=201, tags=["awards"], dependencies=BUREAU)
async def create_award(body: AwardCreate, session: SessionDep, principal: CurrentPrincipal, request: Request):
    """Recorded (the amount is the award type's); approved by another bureau_admin; paid by the next batch."""
    return await awards.record(session=session, principal=principal, data=body,
                               registry=getattr(request.app.state, "registry", None))


@router.get("/v1/awards", response_model=Page[AwardRead], tags=["awards"])
async def list_awards(session: SessionDep, principal: CurrentPrincipal, params: Params):
    items, cursor = await paginate(session, awards.readable(principal), params, keys=[Award.created_at, Award.id])
    return {"items": items, "next_cursor": cursor}


@router.post("/v1/awards/{award_id}/approve", response_model=AwardRead, tags=["awards"], dependencies=BUREAU)
async def approve_award(award_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                        body: AwardDecision | None = None):
    return await awards.decide(session=session, principal=principal, award_id=award_id, approve=True,
                               reason=body.reason if body else None)


@router.post("/v1/awards/{award_id}/reject", response_model=AwardRead, tags=["awards"], dependencies=BUREAU)
async def reject_award(award_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                       body: AwardDecision | None = None):
    return await awards.decide(session=session, principal=principal, award_id=award_id, approve=False,
                               reason=body.reason if body else None)


@router.get("/v1/workers/{worker_id}/payments", response_model=Page[LineRead], tags=["payments"])
async def list_worker_payments(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                               params: Params):
    """A worker's ledger entries: subsidy months, top-ups, recoveries, awards (the worker sees only their own)."""
    await ensure_readable(session=session, principal=principal, worker_id=worker_id)
    items, cursor = await paginate(session, service.worker_payments(principal, worker_id), params,
                                   keys=[LedgerLine.id], kinds=[int])
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/recoveries", response_model=Page[RecoveryRead], tags=["recoveries"])
async def list_recoveries(session: SessionDep, principal: CurrentPrincipal, params: Params):
    """Recovery entries: money taken back from a month's net because less is due now (with the rule and fact)."""
    items, cursor = await paginate(session, service.recoveries(principal), params, keys=[LedgerLine.id], kinds=[int])
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/receivables", response_model=Page[ReceivableRead], tags=["receivables"])
async def list_receivables(session: SessionDep, principal: CurrentPrincipal, params: Params):
    """What each worker owes back: recovered - set off - repaid - written off (workers with any recovery)."""
    stmt = receivables.balances(principal)
    items, cursor = await paginate(session, stmt, params, keys=[stmt.selected_columns.worker_id], kinds=[uuid.UUID])
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/receivables/{worker_id}", response_model=ReceivableRead, tags=["receivables"])
async def get_receivable(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await receivables.balance(session=session, principal=principal, worker_id=worker_id)


@router.post("/v1/receivables/{worker_id}/repayments", response_model=RepaymentRead, status_code=201,
             tags=["receivables"],
             dependencies=BUREAU)
async def record_repayment(worker_id: uuid.UUID, body: RepaymentCreate, session: SessionDep,
                           principal: CurrentPrincipal):
    """Money the worker paid back to the bureau (never more than they owe)."""
    return await receivables.repay(session=session, principal=principal, worker_id=worker_id,
                                   amount_fen=body.amount_fen, note=body.note)


@router.post("/v1/receivables/{worker_id}/write-offs", response_model=WriteOffRead, status_code=201,
             tags=["receivables"],
             dependencies=BUREAU)
async def propose_write_off(worker_id: uuid.UUID, body: WriteOffCreate, session: SessionDep,
                            principal: CurrentPrincipal):
    """Proposed by a bureau_admin with a reason; counts once another bureau_admin approves it."""
    return await receivables.propose_write_off(session=session, principal=principal, worker_id=worker_id,
                                               amount_fen=body.amount_fen, reason=body.reason)


@router.get("/v1/write-offs", response_model=Page[WriteOffRead], tags=["receivables"])
async def list_write_offs(session: SessionDep, principal: CurrentPrincipal, params: Params):
    items, cursor = await paginate(session, receivables.write_offs(principal), params,
                                   keys=[WriteOff.proposed_at, WriteOff.id])
    return {"items": items, "next_cursor": cursor}


@router.post("/v1/write-offs/{write_off_id}/approve", response_model=WriteOffRead, tags=["receivables"],
             dependencies=BUREAU)
async def approve_write_off(write_off_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await receivables.decide_write_off(session=session, principal=principal, write_off_id=write_off_id,
                                              approve=True)


@router.post("/v1/write-offs/{write_off_id}/reject", response_model=WriteOffRead, tags=["receivables"],
             dependencies=BUREAU)
async def reject_write_off(write_off_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await receivables.decide_write_off(session=session, principal=principal, write_off_id=write_off_id,
                                              approve=False)
