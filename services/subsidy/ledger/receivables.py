"""Receivables: what workers owe back after recoveries that their payments could not absorb.

balance = recoveries - set-offs of transfers pending or paid - repayments - approved write-offs (all
policies). Repayments are recorded by the bureau; a write-off is proposed by one bureau_admin with a reason
and approved by another. All of them, and a batch's set-off, take the same lock, so none can push a
balance below zero.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import ensure_readable, readable_workers
from services.subsidy.ledger.models import DisbursementWorker, LedgerLine, Repayment, WriteOff
from services.subsidy.ledger.service import RECEIVABLES_LOCK, lock, receivables
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid, NotFound, NotPermitted


def balances(principal: Principal, worker_id: uuid.UUID | None = None) -> Select:
    """Per worker: recovered, set off, repaid, written off and the balance (a Core select, keyset on worker_id)."""
    parts = union_all(
        select(LedgerLine.worker_id, literal("recovered").label("what"), LedgerLine.amount_fen.label("fen"))
        .where(LedgerLine.kind == "recovery"),
        select(DisbursementWorker.worker_id, literal("set_off"), DisbursementWorker.set_off_fen)
        .where(DisbursementWorker.set_off_fen > 0, DisbursementWorker.status.in_(("pending", "paid"))),
        select(Repayment.worker_id, literal("repaid"), Repayment.amount_fen),
        select(WriteOff.worker_id, literal("written_off"), WriteOff.amount_fen).where(WriteOff.status == "approved"),
    ).subquery()

    def total(what: str):
        return func.coalesce(func.sum(parts.c.fen).filter(parts.c.what == what), 0)

    recovered, set_off, repaid, written_off = (total(w) for w in ("recovered", "set_off", "repaid", "written_off"))
    stmt = (select(parts.c.worker_id, recovered.label("recovered_fen"), set_off.label("set_off_fen"),
                   repaid.label("repaid_fen"), written_off.label("written_off_fen"),
                   (recovered - set_off - repaid - written_off).label("balance_fen"))
            .where(readable_workers(principal, parts.c.worker_id)).group_by(parts.c.worker_id))
    return stmt.where(parts.c.worker_id == worker_id) if worker_id else stmt


async def balance(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID) -> dict:
    await ensure_readable(session=session, principal=principal, worker_id=worker_id)
    row = (await session.execute(balances(principal, worker_id))).first()
    if row is None:
        return {"worker_id": worker_id, "recovered_fen": 0, "set_off_fen": 0, "repaid_fen": 0, "written_off_fen": 0,
                "balance_fen": 0}
    return dict(row._mapping)


async def _owed(session: AsyncSession, worker_id: uuid.UUID, amount_fen: int) -> None:
    await lock(session, RECEIVABLES_LOCK)
    owed = (await receivables(session, worker_id)).get(worker_id, 0)
    if amount_fen > owed:
        raise Invalid(f"the worker owes {owed} fen; {amount_fen} fen is more than that", field="amount_fen")


async def repay(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, amount_fen: int,
                note: str | None) -> Repayment:
    principal.require(Role.BUREAU_ADMIN)
    await _owed(session, worker_id, amount_fen)
    repayment = Repayment(worker_id=worker_id, amount_fen=amount_fen, note=note, recorded_by=principal.subject)
    session.add(repayment)
    await session.flush()
    await session.refresh(repayment)
    return repayment


async def propose_write_off(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, amount_fen: int,
                            reason: str) -> WriteOff:
    principal.require(Role.BUREAU_ADMIN)
    await _owed(session, worker_id, amount_fen)
    write_off = WriteOff(worker_id=worker_id, amount_fen=amount_fen, reason=reason, proposed_by=principal.subject)
    session.add(write_off)
    await session.flush()
    await session.refresh(write_off)
    return write_off


async def decide_write_off(*, session: AsyncSession, principal: Principal, write_off_id: uuid.UUID,
                           approve: bool) -> WriteOff:
    principal.require(Role.BUREAU_ADMIN)
    write_off = await session.get(WriteOff, write_off_id)
    if write_off is None:
        raise NotFound("no such write-off")
    if write_off.proposed_by == principal.subject:
        raise NotPermitted("a write-off is approved by another bureau_admin than the one who proposed it")
    if write_off.status != "proposed":
        raise Conflict(f"the write-off is already {write_off.status}")
    if approve:
        await _owed(session, write_off.worker_id, write_off.amount_fen)
    result = await session.execute(
        update(WriteOff).where(WriteOff.id == write_off_id, WriteOff.status == "proposed",
                               WriteOff.proposed_by != principal.subject)
        .values(status="approved" if approve else "rejected", decided_by=principal.subject, decided_at=func.now())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"the write-off is already {write_off.status}")
    await session.refresh(write_off)
    return write_off


def write_offs(principal: Principal):
    return select(WriteOff).where(readable_workers(principal, WriteOff.worker_id))
