"""Monthly disbursement batches (发放), line marks, awards and exports over the payment ledger."""

from __future__ import annotations

import csv
import io
import uuid

from openpyxl import Workbook
from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.eligibility import rules
from services.subsidy.facts.repository import load_approved_facts
from services.subsidy.ledger.models import Disbursement, LedgerLine, RecoveryItem
from services.subsidy.ledger.schemas import AwardCreate
from services.subsidy.policies.service import terms_of, versions
from shared.auth import Principal
from shared.errors import Conflict, NotFound
from shared.money import fen_to_yuan_str
from shared.registry_client import RegistryClient

LINE_COLUMNS = ("kind", "worker_id", "policy_code", "policy_id", "disbursement_id", "month", "level", "amount_fen",
                "status", "created_by")


def compute_lines(facts_by_worker: dict, terms: list[rules.PolicyTerms], *, through: int) -> list[tuple]:
    """(worker_id, month, level, amount_fen, policy_id) for every unpaid payable month up to `through`."""
    out = []
    terms = rules.Versions(terms)
    for worker_id, facts in facts_by_worker.items():
        for verdict in rules.payable_months(facts, terms, through=through):
            out.append((worker_id, verdict.month, verdict.level, verdict.amount_fen, verdict.policy.id))
    return out


async def create_batch(*, session: AsyncSession, principal: Principal, policy_code: str,
                       month: str) -> tuple[Disbursement, bool]:
    """The month's batch, created once; later calls (also concurrent ones) get the same batch back."""
    principal.require("bureau_admin")
    terms = [terms_of(p) for p in await versions(session=session, code=policy_code)]
    new_id = uuid.uuid4()
    # Concurrent callers block on the unique key until the creator commits, then see its batch.
    created = (await session.execute(
        insert(Disbursement).values(id=new_id, policy_code=policy_code, month=month, created_by=principal.subject)
        .on_conflict_do_nothing(index_elements=["policy_code", "month"]).returning(Disbursement.id))).scalar()
    if created is None:
        batch = await session.scalar(select(Disbursement).where(
            Disbursement.policy_code == policy_code, Disbursement.month == month))
        return batch, False
    # Batches of different months of one policy may share arrears: compute them one at a time. The same lock
    # keeps a version from being corrected while a batch pays under it, so the terms are read after it.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("batch:" + policy_code))))
    terms = [terms_of(p) for p in await versions(session=session, code=policy_code)]
    through = rules.month_idx(month)
    facts = await load_approved_facts(session, policy_code=policy_code, through=through)
    lines = compute_lines(facts, terms, through=through)
    if lines:
        conn = await session.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.copy_records_to_table(
            "ledger_lines", columns=LINE_COLUMNS,
            records=[("subsidy", w, policy_code, pid, new_id, m, level, amount, "pending", principal.subject)
                     for w, m, level, amount, pid in lines])
    total = sum(line[3] for line in lines)
    await session.execute(update(Disbursement).where(Disbursement.id == new_id)
                          .values(line_count=len(lines), total_fen=total))
    batch = await session.get(Disbursement, new_id, populate_existing=True)
    return batch, True


def _can_see_batches(principal: Principal) -> bool:
    return principal.reads_everything or principal.has_any("station_manager")


async def get_batch(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID) -> Disbursement:
    batch = await session.get(Disbursement, batch_id) if _can_see_batches(principal) else None
    if batch is None:
        raise NotFound("no such disbursement")
    return batch


def batch_lines(principal: Principal, batch_id: uuid.UUID) -> Select:
    return select(LedgerLine).where(LedgerLine.disbursement_id == batch_id,
                                    readable_workers(principal, LedgerLine.worker_id))


async def mark_line(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, line_id: int,
                    status: str, reason: str | None) -> LedgerLine:
    principal.require("bureau_admin")
    line = await session.scalar(select(LedgerLine).where(LedgerLine.id == line_id,
                                                         LedgerLine.disbursement_id == batch_id))
    if line is None:
        raise NotFound("no such line in this disbursement")
    result = await session.execute(
        update(LedgerLine).where(LedgerLine.id == line_id, LedgerLine.status == "pending")
        .values(status=status, failure_reason=reason, marked_at=func.now())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"the line is already marked {line.status}")
    await session.refresh(line)
    return line


async def record_award(*, session: AsyncSession, principal: Principal, data: AwardCreate) -> LedgerLine:
    principal.require("bureau_admin")
    line = LedgerLine(kind="award", worker_id=data.worker_id, title=data.title, amount_fen=data.amount_fen,
                      awarded_on=data.awarded_on, status="paid", created_by=principal.subject)
    session.add(line)
    await session.flush()
    await session.refresh(line)
    return line


def worker_payments(principal: Principal, worker_id: uuid.UUID) -> Select:
    return select(LedgerLine).where(LedgerLine.worker_id == worker_id,
                                    readable_workers(principal, LedgerLine.worker_id))


def recoveries(principal: Principal) -> Select:
    return select(RecoveryItem).where(readable_workers(principal, RecoveryItem.worker_id))


async def export_batch(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, fmt: str,
                       registry: RegistryClient | None) -> tuple[bytes, str, str]:
    """The batch for the bank and the archive: one row per line, names from the registry, a total row."""
    batch = await get_batch(session=session, principal=principal, batch_id=batch_id)
    lines = list(await session.scalars(batch_lines(principal, batch_id).order_by(LedgerLine.worker_id,
                                                                                   LedgerLine.month)))
    people = await registry.lookup_workers(line.worker_id for line in lines) if registry and lines else {}
    header = ["worker_id", "name", "id_number_masked", "month", "level", "amount_fen", "amount_yuan", "status"]
    rows = []
    for line in lines:
        person = people.get(str(line.worker_id), {})
        rows.append([str(line.worker_id), person.get("name", ""), person.get("id_number_masked", ""), line.month,
                     line.level, line.amount_fen, fen_to_yuan_str(line.amount_fen), line.status])
    total = sum(line.amount_fen for line in lines)
    rows.append(["TOTAL", "", "", "", "", total, fen_to_yuan_str(total), f"{len(lines)} lines"])
    name = f"disbursement-{batch.policy_code}-{batch.month}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        return ("\ufeff" + buffer.getvalue()).encode(), "text/csv; charset=utf-8", f"{name}.csv"
    book = Workbook(write_only=True)
    sheet = book.create_sheet(batch.month)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return (out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{name}.xlsx")
