"""Inbox handlers: the subsidy service's view of the facts, from events only.

Every handler is an idempotent, order-independent upsert: the inbox drops redelivered event ids, and
for facts arriving out of order the upserts keep the right answer (the highest revision of a service
month, the latest registration, a revocation that arrives before its certificate's issue).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.eligibility import rules
from services.subsidy.facts.models import CertificateFact, RegistrationFact, ServiceMonthFact
from services.subsidy.ledger.models import LedgerLine, RecoveryItem
from services.subsidy.policies.models import Policy
from services.subsidy.policies.service import terms_of
from shared.events.envelope import (
    CertificateIssued,
    CertificateRevoked,
    CloudEvent,
    EventType,
    ServiceMonth,
    WorkerRegistrationChanged,
)


async def on_certificate_issued(session: AsyncSession, event: CloudEvent) -> None:
    data = CertificateIssued.model_validate(event.data)
    stmt = insert(CertificateFact).values(
        certificate_id=data.certificate_id, worker_id=data.worker_id, level=data.level,
        certificate_no=data.certificate_no, obtained_on=data.obtained_on)
    # The revocation, if it came first, is kept.
    stmt = stmt.on_conflict_do_update(index_elements=[CertificateFact.certificate_id], set_={
        "worker_id": stmt.excluded.worker_id, "level": stmt.excluded.level,
        "certificate_no": stmt.excluded.certificate_no, "obtained_on": stmt.excluded.obtained_on,
        "updated_at": text("now()")})
    await session.execute(stmt)
    await create_recovery_items(session, worker_id=data.worker_id, certificate_id=data.certificate_id)


async def on_certificate_revoked(session: AsyncSession, event: CloudEvent) -> None:
    data = CertificateRevoked.model_validate(event.data)
    stmt = insert(CertificateFact).values(
        certificate_id=data.certificate_id, worker_id=data.worker_id, revoked_on=data.revoked_on,
        revocation_reason=data.reason)
    stmt = stmt.on_conflict_do_update(index_elements=[CertificateFact.certificate_id], set_={
        "revoked_on": text("LEAST(certificates.revoked_on, excluded.revoked_on)"),
        "revocation_reason": stmt.excluded.revocation_reason, "updated_at": text("now()")})
    await session.execute(stmt)
    await create_recovery_items(session, worker_id=data.worker_id, certificate_id=data.certificate_id)


async def on_registration_changed(session: AsyncSession, event: CloudEvent) -> None:
    data = WorkerRegistrationChanged.model_validate(event.data)
    stmt = insert(RegistrationFact).values(worker_id=data.worker_id, registered_on=data.registered_on,
                                           division_code=data.division_code, as_of=event.time)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RegistrationFact.worker_id],
        set_={"registered_on": stmt.excluded.registered_on, "division_code": stmt.excluded.division_code,
              "as_of": stmt.excluded.as_of},
        where=stmt.excluded.as_of >= RegistrationFact.as_of)
    await session.execute(stmt)


async def on_service_month(session: AsyncSession, event: CloudEvent) -> None:
    data = ServiceMonth.model_validate(event.data)
    stmt = insert(ServiceMonthFact).values(
        worker_id=data.worker_id, month=data.month, station_id=data.station_id, full_time=data.full_time,
        service_hours=data.service_hours, revision=data.revision)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ServiceMonthFact.worker_id, ServiceMonthFact.month],
        set_={"station_id": stmt.excluded.station_id, "full_time": stmt.excluded.full_time,
              "service_hours": stmt.excluded.service_hours, "revision": stmt.excluded.revision},
        where=stmt.excluded.revision > ServiceMonthFact.revision)
    if (await session.execute(stmt)).rowcount:
        await rebuild_runs(session, worker_id=data.worker_id)


async def rebuild_runs(session: AsyncSession, *, worker_id: uuid.UUID) -> None:
    """The worker's runs of full-time months, from their service months (a few dozen rows)."""
    await session.execute(text("DELETE FROM service_runs WHERE worker_id = :w"), {"w": worker_id})
    await session.execute(text("""
        INSERT INTO service_runs (worker_id, first_idx, last_idx)
        SELECT :w, min(month_idx), max(month_idx) FROM (
          SELECT month_idx, month_idx - row_number() OVER (ORDER BY month_idx) AS grp
          FROM service_months WHERE worker_id = :w AND full_time) t
        GROUP BY grp"""), {"w": worker_id})


HANDLERS = {
    EventType.CERTIFICATE_ISSUED.value: on_certificate_issued,
    EventType.CERTIFICATE_REVOKED.value: on_certificate_revoked,
    EventType.WORKER_REGISTRATION_CHANGED.value: on_registration_changed,
    EventType.SERVICE_MONTH.value: on_service_month,
}


async def create_recovery_items(session: AsyncSession, *, worker_id: uuid.UUID, certificate_id: uuid.UUID) -> int:
    """Months already in the ledger that a revoked certificate no longer covers become recovery items.

    Runs once the certificate is both issued and revoked (in either order). A line is recovered down to
    what the remaining certificates still pay for that month (0 if none); idempotent per line and certificate.
    """
    cert = await session.get(CertificateFact, certificate_id, populate_existing=True)
    if cert is None or cert.revoked_on is None or cert.level is None:
        return 0
    lines = (await session.execute(
        select(LedgerLine, Policy).join(Policy, Policy.id == LedgerLine.policy_id).where(
            LedgerLine.worker_id == worker_id, LedgerLine.kind == "subsidy", LedgerLine.status != "failed",
            LedgerLine.month_idx >= rules.date_month(cert.revoked_on)))).all()
    if not lines:
        return 0
    certificates = [rules.Certificate(c.level, c.obtained_on, c.revoked_on, c.certificate_id) for c in
                    (await session.scalars(select(CertificateFact).where(CertificateFact.worker_id == worker_id)))]
    created = 0
    for line, policy in lines:
        terms = terms_of(policy)
        due_level = rules.covering_level(certificates, terms, line.month_idx)
        due = int(terms.rates[due_level]) if due_level else 0
        if due >= line.amount_fen:
            continue
        reason = (f"certificate {certificate_id} revoked on {cert.revoked_on.isoformat()}: {line.month} was "
                  f"{'paid' if line.status == 'paid' else 'batched'} {line.amount_fen} fen, due {due} fen")
        result = await session.execute(insert(RecoveryItem).values(
            id=uuid.uuid4(), worker_id=worker_id, ledger_line_id=line.id, certificate_id=certificate_id,
            month=line.month, paid_fen=line.amount_fen, due_fen=due, amount_fen=line.amount_fen - due,
            reason=reason).on_conflict_do_nothing())
        created += result.rowcount
    return created

