"""HTTP route of the HR bulk import (JSON array, CSV or XLSX by Content-Type), with Idempotency-Key."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.registry.deps import CipherDep
from services.registry.imports import parsing, service
from services.registry.imports.models import ImportRequest
from services.registry.imports.schemas import ImportResult
from services.registry.workers.repository import WRITERS
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, PayloadTooLarge

router = APIRouter(prefix="/v1", tags=["imports"])
MAX_BODY = 128 * 1024 * 1024


def _json(status: int, body: bytes, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


@router.post("/workers/import", response_model=ImportResult, openapi_extra={"requestBody": {"content": {
    parsing.JSON_TYPE: {"schema": {"type": "array", "items": {"type": "object"}}},
    parsing.CSV_TYPE: {"schema": {"type": "string"}},
    parsing.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}})
async def import_workers(request: Request, session: SessionDep, principal: CurrentPrincipal, cipher: CipherDep):
    """Upsert people, employment and certificates keyed by ID number; one result per row.

    Accepts the Chinese headers of the HR export (姓名, 身份证号, ...) or English field names. A retried
    request with the same `Idempotency-Key` gets the first answer instead of importing twice.
    """
    principal.require(*WRITERS)
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 200):
        raise Invalid("Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the import is larger than {MAX_BODY // 2**20} MiB", field="body")
    content_type = request.headers.get("content-type", "")
    digest = hashlib.sha256(content_type.encode() + b"\0" + body).digest()
    if key is not None:
        # Under the import lock, a concurrent retry waits for the first request and then replays its answer.
        await service.lock_imports(session)
        stored = (await session.execute(select(ImportRequest).where(
            ImportRequest.subject == principal.subject, ImportRequest.idempotency_key == key))).scalar_one_or_none()
        if stored is not None:
            if stored.request_digest != digest:
                raise Invalid("this Idempotency-Key was used for a different request", field="Idempotency-Key")
            return _json(stored.status_code, json.dumps(stored.response, ensure_ascii=False).encode(), replayed=True)
    raw = parsing.parse(content_type, body)
    del body
    result = await service.run_import(session=session, principal=principal, settings=request.app.state.settings,
                                      cipher=cipher, raw=raw,
                                      batch_size=request.app.state.settings.import_batch_size)
    if key is not None:
        stored = await session.execute(insert(ImportRequest).values(
            subject=principal.subject, idempotency_key=key, request_digest=digest, status_code=200,
            response=result).on_conflict_do_nothing())
        if stored.rowcount != 1:
            raise Conflict("a request with this Idempotency-Key is being processed", field="Idempotency-Key")
    return _json(200, json.dumps(result, ensure_ascii=False).encode())
