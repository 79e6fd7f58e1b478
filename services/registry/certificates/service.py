"""Certificate rules: recorded and revoked in the worker's transaction, with their events in the outbox."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.certificates.models import Certificate
from services.registry.certificates.schemas import CertificateCreate, CertificateRevoke
from services.registry.events import certificate_issued, certificate_revoked
from services.registry.settings import RegistrySettings
from services.registry.workers import repository as workers
from shared.auth import Principal, Role
from shared.contracts.events import TOPICS
from shared.errors import Conflict, Invalid, NotFound, NotPermitted
from shared.events.outbox import enqueue


def recorded_verified(principal: Principal, settings: RegistrySettings) -> bool:
    """Whose certificates count at once: the bureau's and those of the HR systems the bureau trusts
    (`REGISTRY_TRUSTED_HR_CLIENTS`); anyone else's are claims awaiting a bureau_admin."""
    if principal.is_admin:
        return True
    return principal.has_any(Role.HR_SYSTEM) and principal.client_id in settings.trusted_hr_clients


def issued_event(cert: Certificate):
    return certificate_issued(certificate_id=cert.id, worker_id=cert.worker_id, level=cert.level,
                              certificate_no=cert.certificate_no, obtained_on=cert.obtained_on)


def platform_expiry(registered_on: date | None) -> date | None:
    """National platform registration is valid for three years (re-registered every three years)."""
    if registered_on is None:
        return None
    try:
        return registered_on.replace(year=registered_on.year + 3)
    except ValueError:  # 29 February
        return registered_on.replace(year=registered_on.year + 3, day=28)


async def issue(*, session: AsyncSession, principal: Principal, settings: RegistrySettings, worker_id: uuid.UUID,
                data: CertificateCreate) -> Certificate:
    """Recorded by the bureau (or a trusted HR system): verified, certificate-issued in the same transaction.
    Recorded by anyone else: a claim, and nothing is emitted until a bureau_admin verifies it."""
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
                       continuing_education_hours=data.continuing_education_hours, status="valid",
                       recorded_by=principal.subject)
    if recorded_verified(principal, settings):
        cert.verification, cert.verified_by, cert.verified_at = "verified", principal.subject, func.now()
    else:
        cert.verification = "claimed"
    session.add(cert)
    await session.flush()
    if cert.verification == "verified":
        await enqueue(session, issued_event(cert), topics=TOPICS)
    await session.refresh(cert)
    return cert


async def _get(session: AsyncSession, principal: Principal, worker_id: uuid.UUID,
               certificate_id: uuid.UUID) -> Certificate:
    await workers.get_readable(session, principal, worker_id)
    cert = (await session.execute(select(Certificate).where(
        Certificate.id == certificate_id, Certificate.worker_id == worker_id))).scalar_one_or_none()
    if cert is None:
        raise NotFound(f"certificate {certificate_id} not found")
    return cert


async def decide_claim(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID,
                       certificate_id: uuid.UUID, verify: bool, reason: str | None = None) -> Certificate:
    """A bureau_admin other than the recorder verifies a claim (certificate-issued goes into the outbox in the
    same transaction) or rejects it. Conditional update: two decisions at once cannot both win."""
    principal.require(Role.BUREAU_ADMIN)
    cert = await _get(session, principal, worker_id, certificate_id)
    if cert.recorded_by == principal.subject:
        raise NotPermitted("a claim is verified or rejected by a bureau_admin other than its recorder")
    values = ({"verification": "verified", "verified_by": principal.subject, "verified_at": func.now()} if verify
              else {"verification": "rejected", "verified_by": principal.subject, "verified_at": func.now(),
                    "rejection_reason": reason})
    result = await session.execute(
        update(Certificate).where(Certificate.id == certificate_id, Certificate.verification == "claimed",
                                  Certificate.recorded_by.is_distinct_from(principal.subject))
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"the certificate is not a claim any more ({cert.verification})", field="certificate_id")
    await session.refresh(cert)
    if verify:
        await enqueue(session, issued_event(cert), topics=TOPICS)
    return cert


def claims_statement():
    """Claims awaiting the bureau, oldest first."""
    return select(Certificate).where(Certificate.verification == "claimed")


async def revoke(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, certificate_id: uuid.UUID,
                 data: CertificateRevoke) -> Certificate:
    principal.require(Role.BUREAU_ADMIN, Role.HR_SYSTEM)
    await workers.get_writable(session, principal, worker_id)
    cert = (await session.execute(select(Certificate).where(
        Certificate.id == certificate_id, Certificate.worker_id == worker_id))).scalar_one_or_none()
    if cert is None:
        raise NotFound(f"certificate {certificate_id} not found")
    if data.revoked_on < cert.obtained_on:
        raise Invalid("revoked_on is before obtained_on", field="revoked_on")
    # Conditional update: two revocations at once cannot both win.
    result = await session.execute(
        update(Certificate).where(Certificate.id == certificate_id, Certificate.status == "valid",
                                  Certificate.verification == "verified")
        .values(status="revoked", revoked_on=data.revoked_on, revoke_reason=data.reason))
    if result.rowcount != 1:
        raise Conflict("the certificate is already revoked" if cert.status == "revoked" else
                       "only a verified certificate is revoked (a claim is rejected)", field="certificate_id")
    await enqueue(session, certificate_revoked(certificate_id=cert.id, worker_id=worker_id,
                                               revoked_on=data.revoked_on, reason=data.reason),
                  topics=TOPICS)
    await session.refresh(cert)
    return cert
