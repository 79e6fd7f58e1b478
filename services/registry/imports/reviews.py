"""Rows waiting for the bureau (待核实): merge into the known person, or confirm a different person.

An import does not create a row whose name and birth date are those of a known worker under another
ID number (it may be the same person, e.g. an ID number Excel damaged). The bureau decides, once:
the decision is a conditional update (`WHERE status = 'pending'`), so two decisions on one row cannot
both win; the loser gets 409. Deciding applies the row as the import would have (person, employment,
certificate) in the same transaction, or nothing at all when the row no longer passes.

- merge, keep "existing": the row's data goes to the known person, whose ID number stays; the row's
  ID number is remembered as another number of this person, so a later import of it updates them.
- merge, keep "incoming": the same, but the row's ID number replaces the one on record (the one on
  record was the wrong one); the old number is remembered instead.
- confirm: a different person; the row is created as a new worker.
"""

from __future__ import annotations

import json
import uuid
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.crypto import PersonalDataCipher
from services.registry.imports.models import ImportReview
from services.registry.imports.parsing import RawRows
from services.registry.imports.service import Decision, lock_imports, run_import
from services.registry.settings import RegistrySettings
from services.registry.workers.models import Worker
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid, NotFound
from shared.validators import normalize_id_number


def to_read(review: ImportReview, worker: Worker | None, *, cipher: PersonalDataCipher) -> dict:
    """The bureau's view (bureau_admin only: ID numbers unmasked, to compare them)."""
    values = json.loads(cipher.decrypt(review.row_enc))
    return {
        "id": review.id, "status": review.status, "reason": review.reason, "row": review.row_number,
        "name": review.name, "birth_date": review.birth_date,
        "id_number": normalize_id_number(values["id_number"]),
        "values": {k: v for k, v in values.items() if v is not None},
        "worker": None if worker is None else {
            "id": worker.id, "name": worker.name, "birth_date": worker.birth_date, "gender": worker.gender,
            "id_number": cipher.decrypt(worker.id_number_enc)},
        "created_by": review.created_by, "created_at": review.created_at,
        "resolved_by": review.resolved_by, "resolved_at": review.resolved_at, "kept": review.kept,
        "result_worker_id": review.result_worker_id,
    }


def list_statement(principal: Principal, *, status: str | None):
    """Reviews are the bureau's: bureau_admin only."""
    principal.require(Role.BUREAU_ADMIN)
    stmt = select(ImportReview)
    if status is not None:
        stmt = stmt.where(ImportReview.status == status)
    return stmt


async def workers_of(session: AsyncSession, items: list[ImportReview]) -> dict[uuid.UUID, Worker]:
    ids = list({r.worker_id for r in items})
    return {w.id: w for w in (await session.execute(select(Worker).where(Worker.id.in_(ids)))).scalars()}


async def get(*, session: AsyncSession, principal: Principal, review_id: uuid.UUID) -> tuple[ImportReview, Worker]:
    principal.require(Role.BUREAU_ADMIN)
    found = (await session.execute(select(ImportReview, Worker).join(Worker, Worker.id == ImportReview.worker_id)
                                   .where(ImportReview.id == review_id))).first()
    if found is None:
        raise NotFound(f"review {review_id} not found")
    return found.ImportReview, found.Worker


async def resolve(*, session: AsyncSession, principal: Principal, settings: RegistrySettings,
                  cipher: PersonalDataCipher, review_id: uuid.UUID, action: Literal["merge", "confirm"],
                  keep: Literal["existing", "incoming"] = "existing", batch_size: int = 5000) -> dict:
    principal.require(Role.BUREAU_ADMIN)
    await lock_imports(session)
    claimed = (await session.execute(
        update(ImportReview).where(ImportReview.id == review_id, ImportReview.status == "pending")
        .values(status="merged" if action == "merge" else "confirmed", resolved_by=principal.subject,
                resolved_at=func.now(), kept=keep if action == "merge" else None)
        .returning(ImportReview.id))).scalar_one_or_none()
    review, worker = await get(session=session, principal=principal, review_id=review_id)
    if claimed is None:
        raise Conflict(f"this review was already decided ({review.status})", field="status")
    values = json.loads(cipher.decrypt(review.row_enc))
    raw = RawRows(columns=review.columns, rows=[(review.row_number, 0, values, None)])
    alias = None
    if action == "merge":
        alias = review.id_number_hash
        if keep == "incoming":
            alias = worker.id_number_hash
            try:
                await session.execute(update(Worker).where(Worker.id == worker.id).values(
                    **cipher.id_number_columns(normalize_id_number(values["id_number"])), updated_at=func.now()))
            except IntegrityError:
                raise Conflict("another worker holds the incoming ID number", field="keep") from None
        answer = await run_import(session=session, principal=principal, settings=settings, cipher=cipher, raw=raw,
                                  batch_size=batch_size, decision=Decision(merge_into=worker.id))
    else:
        answer = await run_import(session=session, principal=principal, settings=settings, cipher=cipher, raw=raw,
                                  batch_size=batch_size, decision=Decision(confirm=True))
    outcome = answer["results"][0]
    if outcome["status"] in ("error", "needs_review"):
        first = (outcome["errors"] or [{"field": "status", "reason": "still needs review"}])[0]
        reasons = "; ".join(f"{e['column']}: {e['reason']}" for e in outcome["errors"])
        raise Invalid(f"the row cannot be applied: {reasons or first['reason']}", field=first["field"])
    try:
        await session.execute(update(ImportReview).where(ImportReview.id == review_id).values(
            result_worker_id=uuid.UUID(outcome["worker_id"]), alias_hash=alias))
    except IntegrityError:
        raise Conflict("this ID number is already another number of a merged worker", field="keep") from None
    await session.flush()
    session.expire_all()
    review, worker = await get(session=session, principal=principal, review_id=review_id)
    return {**to_read(review, worker, cipher=cipher), "result": outcome}
