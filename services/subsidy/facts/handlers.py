"""Inbox handlers: the subsidy service's view of the facts, from events only.

Every handler is an idempotent, order-independent upsert: the inbox drops redelivered event ids, and
for facts arriving out of order the upserts keep the right answer (the highest revision of a service
month, the latest registration, a revocation that arrives before its certificate's issue).

Handlers only record facts, and note in `fact_changes` that the worker's facts changed from some month on.
What that changes in money is settled by the next batch (ledger/settlement.py), under the batch lock.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.eligibility import rules
from services.subsidy.facts.models import CertificateFact, FactChange, RegistrationFact, ServiceMonthFact
from shared.contracts.events import (
    CertificateIssued,
    CertificateRevoked,
    EventType,
    ServiceMonth,
    WorkerRegistrationChanged,
)
from shared.events.envelope import CloudEvent


async def note_change(session: AsyncSession, *, worker_id: uuid.UUID, from_idx: int) -> None:
    """The worker's facts changed, which can change what is due from month `from_idx` on."""
    stmt = insert(FactChange).values(worker_id=worker_id, seq=text("nextval('fact_change_seq')"), from_idx=from_idx)
    await session.execute(stmt.on_conflict_do_update(index_elements=[FactChange.worker_id], set_={
        "seq": text("nextval('fact_change_seq')"),
        "from_idx": text("least(coalesce(fact_changes.from_idx, excluded.from_idx), excluded.from_idx)"),
        "changed_at": text("now()")}))


async def _old_certificate(session: AsyncSession, certificate_id: uuid.UUID) -> CertificateFact | None:
    return await session.get(CertificateFact, certificate_id, populate_existing=True)


def _month(day) -> int | None:
    return rules.date_month(day) if day is not None else None


async def on_certificate_issued(session: AsyncSession, event: CloudEvent) -> None:
    data = CertificateIssued.model_validate(event.data)
    old = await _old_certificate(session, data.certificate_id)
    stmt = insert(CertificateFact).values(
        certificate_id=data.certificate_id, worker_id=data.worker_id, level=data.level,
        certificate_no=data.certificate_no, obtained_on=data.obtained_on)
    # The revocation, if it came first, is kept.
    stmt = stmt.on_conflict_do_update(index_elements=[CertificateFact.certificate_id], set_={
        "worker_id": stmt.excluded.worker_id, "level": stmt.excluded.level,
        "certificate_no": stmt.excluded.certificate_no, "obtained_on": stmt.excluded.obtained_on,
        "updated_at": text("now()")})
    await session.execute(stmt)
    # A certificate covers months after the one it was obtained in (an earlier record may say another date).
    months = [m for m in (_month(data.obtained_on), _month(old.obtained_on) if old else None) if m is not None]
    await note_change(session, worker_id=data.worker_id, from_idx=min(months))


async def on_certificate_revoked(session: AsyncSession, event: CloudEvent) -> None:
    data = CertificateRevoked.model_validate(event.data)
    old = await _old_certificate(session, data.certificate_id)
    stmt = insert(CertificateFact).values(
        certificate_id=data.certificate_id, worker_id=data.worker_id, revoked_on=data.revoked_on,
        revocation_reason=data.reason)
    stmt = stmt.on_conflict_do_update(index_elements=[CertificateFact.certificate_id], set_={
        "revoked_on": text("LEAST(certificates.revoked_on, excluded.revoked_on)"),
        "revocation_reason": stmt.excluded.revocation_reason, "updated_at": text("now()")})
    await session.execute(stmt)
    months = [m for m in (_month(data.revoked_on), _month(old.revoked_on) if old else None) if m is not None]
    await note_change(session, worker_id=data.worker_id, from_idx=min(months))


async def on_registration_changed(session: AsyncSession, event: CloudEvent) -> None:
    data = WorkerRegistrationChanged.model_validate(event.data)
    old = await session.get(RegistrationFact, data.worker_id, populate_existing=True)
    stmt = insert(RegistrationFact).values(worker_id=data.worker_id, registered_on=data.registered_on,
                                           division_code=data.division_code, as_of=event.time)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RegistrationFact.worker_id],
        set_={"registered_on": stmt.excluded.registered_on, "division_code": stmt.excluded.division_code,
              "as_of": stmt.excluded.as_of},
        where=stmt.excluded.as_of >= RegistrationFact.as_of)
    if (await session.execute(stmt)).rowcount:
        # A registration counts from the month it is dated; a changed bureau or a missing date: every month.
        dated = [old.registered_on if old else None, data.registered_on]
        same_bureau = old is not None and old.division_code == data.division_code
        from_idx = min(map(rules.date_month, dated)) if same_bureau and all(dated) else 0
        await note_change(session, worker_id=data.worker_id, from_idx=from_idx)


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
        await note_change(session, worker_id=data.worker_id, from_idx=rules.month_idx(data.month))


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
