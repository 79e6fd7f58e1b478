"""HTTP routes for certificates."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from services.registry.certificates import service
from services.registry.certificates.models import Certificate
from services.registry.certificates.schemas import (
    CertificateCreate,
    CertificateRead,
    CertificateReject,
    CertificateRevoke,
)
from services.registry.workers import repository as workers
from services.registry.workers.repository import WRITERS
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(prefix="/v1", tags=["certificates"])


@router.post("/workers/{worker_id}/certificates", status_code=201, response_model=CertificateRead,
             dependencies=[allow(*WRITERS)])
async def create_certificate(worker_id: uuid.UUID, data: CertificateCreate, session: SessionDep,
                             principal: CurrentPrincipal, request: Request):
    """Record a certificate. By bureau_admin (or a trusted HR system): verified, emits certificate-issued through
    the outbox. By a station manager or another HR system: a claim (`verification: claimed`) that counts only
    once a bureau_admin other than its recorder verifies it."""
    return await service.issue(session=session, principal=principal, settings=request.app.state.settings,
                               worker_id=worker_id, data=data)


@router.post("/workers/{worker_id}/certificates/{certificate_id}/verify", response_model=CertificateRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def verify_certificate(worker_id: uuid.UUID, certificate_id: uuid.UUID, session: SessionDep,
                             principal: CurrentPrincipal):
    """bureau_admin, not the recorder: the claim counts; emits certificate-issued through the outbox."""
    return await service.decide_claim(session=session, principal=principal, worker_id=worker_id,
                                      certificate_id=certificate_id, verify=True)


@router.post("/workers/{worker_id}/certificates/{certificate_id}/reject", response_model=CertificateRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def reject_certificate(worker_id: uuid.UUID, certificate_id: uuid.UUID, data: CertificateReject,
                             session: SessionDep, principal: CurrentPrincipal):
    """bureau_admin, not the recorder: the claim never counts."""
    return await service.decide_claim(session=session, principal=principal, worker_id=worker_id,
                                      certificate_id=certificate_id, verify=False, reason=data.reason)


@router.get("/certificate-claims", response_model=Page[CertificateRead])
async def list_certificate_claims(session: SessionDep, principal: CurrentPrincipal,
                                  params: Annotated[PageParams, Depends(page_params)]):
    """Certificates awaiting the bureau's verification (bureau_admin, auditor)."""
    principal.require(Role.BUREAU_ADMIN, Role.AUDITOR)
    items, cursor = await paginate(session, service.claims_statement(), params,
                                   keys=[Certificate.created_at, Certificate.id])
    return {"items": items, "next_cursor": cursor}


@router.post("/workers/{worker_id}/certificates/{certificate_id}/revoke", response_model=CertificateRead,
             dependencies=[allow(Role.BUREAU_ADMIN, Role.HR_SYSTEM)])
async def revoke_certificate(worker_id: uuid.UUID, certificate_id: uuid.UUID, data: CertificateRevoke,
                             session: SessionDep, principal: CurrentPrincipal):
    """Revoke a certificate (bureau_admin, hr_system); emits certificate-revoked."""
    return await service.revoke(session=session, principal=principal, worker_id=worker_id,
                                certificate_id=certificate_id, data=data)


@router.get("/workers/{worker_id}/certificates", response_model=Page[CertificateRead])
async def list_certificates(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                            params: Annotated[PageParams, Depends(page_params)]):
    await workers.get_readable(session, principal, worker_id)
    stmt = select(Certificate).where(Certificate.worker_id == worker_id)
    items, cursor = await paginate(session, stmt, params, keys=[Certificate.created_at, Certificate.id])
    return {"items": items, "next_cursor": cursor}
