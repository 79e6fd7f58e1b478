"""The auditor's view of a service's trail: `GET /v1/audit` (filter by worker, actor, time) and
`GET /v1/audit/verify` (the gateway serves its own at `/auth/audit`). Auditors and bureau_admin only; to everyone
else they do not exist (404)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from shared.audit import AUDIT_LOG
from shared.audit.verify import verify_chain
from shared.auth import CurrentPrincipal, Principal, Role
from shared.db import SessionDep
from shared.errors import NotFound
from shared.pagination import Page, PageParams, page_params, paginate

Params = Annotated[PageParams, Depends(page_params)]
# Shown as the registry shows them by default (birth year only: with the masked ID number, a full birth date
# would narrow it down); the full record is read in the registry, unmasked with a stated purpose.
_MASKED = {"birth_date": lambda v: f"{v[:4]}-**-**" if isinstance(v, str) else v}


class AuditRow(BaseModel):
    seq: int
    at: datetime
    actor: str
    roles: str | None
    client_id: str | None
    request_id: str | None
    method: str | None
    path: str | None
    action: str
    entity: str
    entity_id: str | None
    worker_id: uuid.UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    purpose: str | None
    prev_hash: str
    hash: str


class BrokenRow(BaseModel):
    seq: int
    id: int | None
    reason: str


class AuditVerdict(BaseModel):
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    first_broken: BrokenRow | None


def _require_auditor(principal: Principal) -> None:
    if not principal.has_any(Role.AUDITOR, Role.BUREAU_ADMIN):
        raise NotFound("not found")


def _shown(row, principal: Principal) -> dict:
    item = dict(row._mapping)
    for side in ("before", "after"):
        if item[side]:
            item[side] = {k: _MASKED[k](v) if k in _MASKED else v for k, v in item[side].items()}
    return item


def audit_router(prefix: str = "/v1/audit") -> APIRouter:
    """The two endpoints under `prefix` (each service's `/v1/audit`; the gateway's is `/auth/audit`)."""
    router = APIRouter(prefix=prefix, tags=["audit"])

    @router.get("", response_model=Page[AuditRow])
    async def list_audit(
        session: SessionDep, principal: CurrentPrincipal, params: Params, worker_id: uuid.UUID | None = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        from_: Annotated[datetime | None, Query(alias="from", description="sealed at or after (ISO time)")] = None,
        to: Annotated[datetime | None, Query(description="sealed before (ISO time)")] = None,
    ):
        """The trail in chain order: every write, look at unmasked personal data and export of this service."""
        _require_auditor(principal)
        stmt = select(*(c for c in AUDIT_LOG.c if c.key != "id")).where(AUDIT_LOG.c.seq.is_not(None))
        if worker_id is not None:
            stmt = stmt.where(AUDIT_LOG.c.worker_id == worker_id)
        if actor is not None:
            stmt = stmt.where(AUDIT_LOG.c.actor == actor)
        if from_ is not None:
            stmt = stmt.where(AUDIT_LOG.c.at >= from_)
        if to is not None:
            stmt = stmt.where(AUDIT_LOG.c.at < to)
        rows, cursor = await paginate(session, stmt, params, keys=[AUDIT_LOG.c.seq], kinds=[int])
        return {"items": [_shown(r, principal) for r in rows], "next_cursor": cursor}

    @router.get("/verify", response_model=AuditVerdict)
    async def verify_audit(session: SessionDep, principal: CurrentPrincipal):
        """Recompute the whole chain; `first_broken` names the first row edited, removed or out of order."""
        _require_auditor(principal)
        return (await verify_chain(session)).as_dict()

    return router


router = audit_router()
