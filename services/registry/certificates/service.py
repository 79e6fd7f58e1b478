"""Certificate rules: recorded and revoked in the worker's transaction, with their events in the outbox."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.certificates.models import Certificate
from services.registry.certificates.schemas import CertificateCreate, CertificateRevoke
from services.registry.events import certificate_issued, certificate_revoked
from services.registry.workers import repository as workers
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotFound
from shared.events.outbox import enqueue


def platform_expiry(registered_on: date | None) -> date | None:
    """National platform registration is valid for three years (re-registered every three years)."""
    if registered_on is None:
        return None
    try:
        return registered_on.replace(year=registered_on.year + 3)
    except ValueError:  # 29 February
        return registered_on.replace(year=registered_on.year + 3, day=28)


async def issue(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID,
                data: CertificateCreate) -> Certificate:
    worker = await workers.get_writable(session, principal, worker_id)
    if data.obtained_on < worker.birth_date:
        raise Invalid("obtained_on is before the worker's birth", field="obtained_on")
    exists = (await session.execute(select(Certificate.id).where(
        Certificate.worker_id == worker_id, Certificate.certificate_no == data.certificate_no))).first()
    if exists:
        raise Conflict("this certificate number is already recorded for the worker", field="certificate_no")
    cert = Certificate(id=uuid.uuid4(), worker_id=worker_id, level=data.level.value,
                       certificate_no=data.certificate_no, obtained_on=data.obtained_on,
                       platform_registered_on=data.platform_registered_on,
                       platform_registration_expires_on=platform_expiry(data.platform_registered_on),
                       continuing_education_hours=data.continuing_education_hours, status="valid")
    session.add(cert)
    await session.flush()
    await enqueue(session, certificate_issued(certificate_id=cert.id, worker_id=worker_id, level=cert.level,
                                              certificate_no=cert.certificate_no, obtained_on=cert.obtained_on))
    await session.refresh(cert)
    return cert


async def revoke(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, certificate_id: uuid.UUID,
                 data: CertificateRevoke) -> Certificate:
    principal.require("bureau_admin", "hr_system")
    await workers.get_writable(session, principal, worker_id)
    cert = (await session.execute(select(Certificate).where(
        Certificate.id == certificate_id, Certificate.worker_id == worker_id))).scalar_one_or_none()
    if cert is None:
        raise NotFound(f"certificate {certificate_id} not found")
    if data.revoked_on < cert.obtained_on:
        raise Invalid("revoked_on is before obtained_on", field="revoked_on")
    # Conditional update: two revocations at once cannot both win.
    result = await session.execute(
        update(Certificate).where(Certificate.id == certificate_id, Certificate.status == "valid")
        .values(status="revoked", revoked_on=data.revoked_on, revoke_reason=data.reason))
    if result.rowcount != 1:
        raise Conflict("the certificate is already revoked", field="certificate_id")
    await enqueue(session, certificate_revoked(certificate_id=cert.id, worker_id=worker_id,
                                               revoked_on=data.revoked_on, reason=data.reason))
    await session.refresh(cert)
    return cert
