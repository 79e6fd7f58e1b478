"""HTTP routes of the HR bulk import (JSON array, CSV or XLSX by Content-Type), its template and its reviews."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.registry.deps import CipherDep
from services.registry.imports import parsing, reviews, service, workbooks
from services.registry.imports.models import ImportRequest, ImportReview
from services.registry.imports.schemas import ImportResult, MergeRequest, ReviewRead, ReviewResolved
from services.registry.privacy.service import record_personal_data_access
from services.registry.stations.models import Station
from services.registry.workers.repository import WRITERS
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, PayloadTooLarge
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(prefix="/v1", tags=["imports"])
Params = Annotated[PageParams, Depends(page_params)]


def _json(status: int, body: bytes, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _xlsx(body: bytes, filename: str) -> Response:
    return Response(body, media_type=parsing.XLSX_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be over the limit (the header, or while reading)."""
    message = (f"the file is larger than {limit / 2**20:,.0f} MiB (REGISTRY_IMPORT_MAX_BYTES); "
               "split it into smaller files")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(message, field="body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(message, field="body")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/workers/import", response_model=ImportResult, openapi_extra={"requestBody": {"content": {
    parsing.JSON_TYPE: {"schema": {"type": "array", "items": {"type": "object"}}},
    parsing.CSV_TYPE: {"schema": {"type": "string"}},
    parsing.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
    responses={200: {"content": {parsing.XLSX_TYPE: {}}, "description": "the answer, or with report=xlsx the "
                                                                         "rows as sent with outcome and reasons"}})
async def import_workers(
    request: Request, session: SessionDep, principal: CurrentPrincipal, cipher: CipherDep,
    dry_run: Annotated[bool, Query(description="validate and report every row; write nothing")] = False,
    report: Annotated[Literal["json", "xlsx"], Query(description="xlsx: the rows as sent plus 结果 and 原因")] = "json",
    sheet: Annotated[str | None, Query(max_length=100, description="the workbook sheet to read")] = None,
):
    """Upsert people, employment and certificates keyed by ID number; one result per row.

    Accepts the Chinese headers of the HR export (姓名, 身份证号, ...) or English field names; CSV in UTF-8,
    UTF-16 (with BOM) or GBK/GB18030; title rows above the header; merged cells. A row that may be a known
    person under another ID number is reported `needs_review` and waits for the bureau. A retried request
    with the same `Idempotency-Key` gets the first answer instead of importing twice.
    """
    principal.require(*WRITERS)
    settings = request.app.state.settings
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 200):
        raise Invalid("Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")
    if dry_run:
        key = None  # nothing is written, so there is nothing to replay
    body = await _read_body(request, settings.import_max_bytes)
    content_type = request.headers.get("content-type", "")
    digest = hashlib.sha256(content_type.encode() + b"\0" + (sheet or "").encode() + b"\0" + body).digest()

    def read():
        return parsing.parse(content_type, body, sheet=sheet, max_rows=settings.import_max_rows,
                             max_unzipped=settings.import_max_unzipped_bytes, keep_cells=report == "xlsx")

    if key is not None:
        # Under the import lock, a concurrent retry waits for the first request and then replays its answer.
        await service.lock_imports(session)
        stored = (await session.execute(select(ImportRequest).where(
            ImportRequest.subject == principal.subject, ImportRequest.idempotency_key == key))).scalar_one_or_none()
        if stored is not None:
            if stored.request_digest != digest:
                raise Invalid("this Idempotency-Key was used for a different request", field="Idempotency-Key")
            if report == "xlsx":
                return _xlsx(workbooks.report(read(), stored.response), "import-report.xlsx")
            return _json(stored.status_code, json.dumps(stored.response, ensure_ascii=False).encode(), replayed=True)
    raw = read()
    if report != "xlsx":
        del body
    savepoint = await session.begin_nested() if dry_run else None
    try:
        result = await service.run_import(session=session, principal=principal, settings=settings, cipher=cipher,
                                          raw=raw, batch_size=settings.import_batch_size)
    finally:
        if savepoint is not None:
            await savepoint.rollback()
    result = {"totals": result["totals"], "dry_run": dry_run, **{k: v for k, v in result.items() if k != "totals"}}
    if key is not None:
        stored = await session.execute(insert(ImportRequest).values(
            subject=principal.subject, idempotency_key=key, request_digest=digest, status_code=200,
            response=result).on_conflict_do_nothing())
        if stored.rowcount != 1:
            raise Conflict("a request with this Idempotency-Key is being processed", field="Idempotency-Key")
    if report == "xlsx":
        return _xlsx(workbooks.report(raw, result), "import-report.xlsx")
    return _json(200, json.dumps(result, ensure_ascii=False).encode())


@router.get("/workers/import/template", response_class=Response,
            responses={200: {"content": {parsing.XLSX_TYPE: {}}, "description": "the template workbook"}})
async def import_template(session: SessionDep, principal: CurrentPrincipal,
                          format: Annotated[Literal["xlsx"], Query()] = "xlsx"):  # noqa: A002
    """The workbook to fill in: headers, instructions, drop-down lists, identifier columns as text."""
    principal.require(*WRITERS)
    names = tuple((await session.execute(select(Station.name).order_by(Station.name))).scalars())
    return _xlsx(workbooks.template(names), "workers-import-template.xlsx")


@router.get("/workers/import/reviews", response_model=Page[ReviewRead])
async def list_import_reviews(
    request: Request, session: SessionDep, principal: CurrentPrincipal, cipher: CipherDep, params: Params,
    status: Literal["pending", "merged", "confirmed"] | None = "pending",
):
    """Imported rows waiting for the bureau: same name and birth date as a known worker, another ID number."""
    stmt = reviews.list_statement(principal, status=status)
    items, cursor = await paginate(session, stmt, params, keys=[ImportReview.created_at, ImportReview.id])
    workers = await reviews.workers_of(session, items)
    await _record_review_look(session, principal, request, list(workers))
    return {"items": [reviews.to_read(r, workers.get(r.worker_id), cipher=cipher) for r in items],
            "next_cursor": cursor}


@router.get("/workers/import/reviews/{review_id}", response_model=ReviewRead)
async def get_import_review(review_id: uuid.UUID, request: Request, session: SessionDep,
                            principal: CurrentPrincipal, cipher: CipherDep):
    review, worker = await reviews.get(session=session, principal=principal, review_id=review_id)
    await _record_review_look(session, principal, request, [worker.id])
    return reviews.to_read(review, worker, cipher=cipher)


async def _record_review_look(session, principal, request: Request, worker_ids: list[uuid.UUID]) -> None:
    """A review shows both ID numbers in full (the bureau compares them): the look is recorded like any unmask."""
    await record_personal_data_access(session=session, principal=principal, worker_ids=worker_ids,
                                      purpose="import review: compare the ID numbers of a possible duplicate",
                                      action=f"{request.method} {request.url.path}")


@router.post("/workers/import/reviews/{review_id}/merge", response_model=ReviewResolved)
async def merge_import_review(review_id: uuid.UUID, data: MergeRequest, request: Request, session: SessionDep,
                              principal: CurrentPrincipal, cipher: CipherDep):
    """The row is the known person: their record takes the row's data (409 when already decided)."""
    return await reviews.resolve(session=session, principal=principal, settings=request.app.state.settings,
                                 cipher=cipher, review_id=review_id, action="merge", keep=data.keep,
                                 batch_size=request.app.state.settings.import_batch_size)


@router.post("/workers/import/reviews/{review_id}/confirm", response_model=ReviewResolved)
async def confirm_import_review(review_id: uuid.UUID, request: Request, session: SessionDep,
                                principal: CurrentPrincipal, cipher: CipherDep):
    """The row is a different person: it is created (409 when already decided)."""
    settings = request.app.state.settings
    return await reviews.resolve(session=session, principal=principal, settings=settings, cipher=cipher,
                                 review_id=review_id, action="confirm", batch_size=settings.import_batch_size)
