"""Monthly station service reports: draft, confirm (one service-month event per entry), amend (revision + 1).

The registry decides who was employed at a station in a month; it is asked before any row is written or
locked, so a slow or absent registry costs a 503 and leaves nothing behind.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.common import Clock, ensure_station_writable
from services.projects.service_reports.models import ServiceReport, ServiceReportEntry
from services.projects.service_reports.schemas import EntryIn, ReportCreate
from shared.auth import Principal, Role
from shared.contracts.events import TOPICS, EventType, ServiceMonth, make_event
from shared.errors import Conflict, Invalid, NotFound, NotPermitted
from shared.events.outbox import enqueue_many
from shared.pagination import PageParams, paginate
from shared.registry_client import RegistryClient
from shared.validators import backdated

WRITERS = (Role.STATION_MANAGER, Role.BUREAU_ADMIN)


def readable(principal: Principal):
    stmt = select(ServiceReport)
    if principal.reads_everything:
        return stmt
    if Role.STATION_MANAGER in principal.roles and principal.station_ids:
        return stmt.where(ServiceReport.station_id.in_(principal.station_ids))
    return stmt.where(False)


async def get_readable(session: AsyncSession, principal: Principal, report_id: UUID, *,
                       for_update: bool = False) -> ServiceReport:
    stmt = readable(principal).where(ServiceReport.id == report_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    report = (await session.execute(stmt)).scalar_one_or_none()
    if report is None:
        raise NotFound(f"service report {report_id} not found")
    return report


async def entries_of(session: AsyncSession, report_ids: list[UUID]) -> dict[UUID, list[ServiceReportEntry]]:
    rows = (await session.execute(select(ServiceReportEntry).where(ServiceReportEntry.report_id.in_(report_ids))
                                  .order_by(ServiceReportEntry.worker_id)
                                  .execution_options(populate_existing=True))).scalars()
    out: dict[UUID, list[ServiceReportEntry]] = {r: [] for r in report_ids}
    for entry in rows:
        out[entry.report_id].append(entry)
    return out


def _no_duplicates(entries: list[EntryIn]) -> None:
    seen: set[UUID] = set()
    for i, entry in enumerate(entries):
        if entry.worker_id in seen:
            raise Invalid(f"worker {entry.worker_id} is listed twice", field=f"entries.{i}.worker_id")
        seen.add(entry.worker_id)


async def _ensure_employed(registry: RegistryClient, *, station_id: UUID, month: str, worker_ids: list[UUID]) -> None:
    if not worker_ids:
        return
    check = await registry.employment_check(station_id=station_id, month=month, worker_ids=worker_ids)
    if check is None:
        raise Invalid(f"station {station_id} is not in the registry", field="station_id")
    missing = [w for w in worker_ids if w not in check.employed]
    if missing:
        raise Invalid(f"not employed at the station in {month}: {', '.join(map(str, missing))}",
                      field="entries", not_employed=[str(w) for w in missing])


async def create_report(*, session: AsyncSession, principal: Principal, registry: RegistryClient, clock: Clock,
                        data: ReportCreate) -> ServiceReport:
    principal.require(*WRITERS)
    ensure_station_writable(principal, data.station_id)
    if data.month > clock.this_month():
        raise Invalid(f"{data.month} has not happened yet", field="month")
    _no_duplicates(data.entries)
    exists = (await session.execute(select(ServiceReport.id).where(
        ServiceReport.station_id == data.station_id, ServiceReport.month == data.month))).scalar_one_or_none()
    if exists is not None:
        raise Conflict(f"the station already has a report for {data.month}", existing_id=str(exists))
    await _ensure_employed(registry, station_id=data.station_id, month=data.month,
                           worker_ids=[e.worker_id for e in data.entries])
    report_id = (await session.execute(
        insert(ServiceReport).values(station_id=data.station_id, month=data.month, status="draft",
                                     created_by=principal.subject)
        .on_conflict_do_nothing(constraint="uq_service_reports_station_month")
        .returning(ServiceReport.id))).scalar_one_or_none()
    if report_id is None:  # a concurrent request created it between our check and our insert
        raise Conflict(f"the station already has a report for {data.month}")
    await session.execute(insert(ServiceReportEntry), [
        {"report_id": report_id, "worker_id": e.worker_id, "full_time": e.full_time,
         "service_hours": e.service_hours, "revision": 1} for e in data.entries])
    return await session.get(ServiceReport, report_id)


def _event(report: ServiceReport, entry: ServiceReportEntry):
    data = ServiceMonth(worker_id=entry.worker_id, station_id=report.station_id, month=report.month,
                        full_time=entry.full_time, service_hours=float(entry.service_hours), revision=entry.revision)
    return make_event(EventType.SERVICE_MONTH, data, source="projects")


def _needs_bureau(principal: Principal, clock: Clock, month: str) -> bool:
    """A station manager's word alone does not make a month more than two months back count."""
    return not principal.is_admin and backdated(month, clock.today())


async def confirm(*, session: AsyncSession, principal: Principal, clock: Clock, report_id: UUID) -> ServiceReport:
    """draft -> confirmed (events), or draft -> awaiting_bureau (no events) for a manager's back-dated month;
    a bureau_admin confirms a draft or an awaiting report. Conditional update: two confirmations never both win."""
    principal.require(*WRITERS)
    report = await get_readable(session, principal, report_id)
    ensure_station_writable(principal, report.station_id)
    if _needs_bureau(principal, clock, report.month):
        target, sources = "awaiting_bureau", ("draft",)
    else:
        target, sources = "confirmed", ("draft", "awaiting_bureau") if principal.is_admin else ("draft",)
    values = {"status": target}
    if target == "confirmed":
        values |= {"confirmed_at": func.now(), "confirmed_by": principal.subject}
    moved = (await session.execute(
        update(ServiceReport).where(ServiceReport.id == report_id, ServiceReport.status.in_(sources))
        .values(**values).returning(ServiceReport.id)
        .execution_options(synchronize_session=False))).scalar_one_or_none()
    if moved is None:
        await session.refresh(report)
        raise Conflict(f"the report is {report.status}" + ("; amend it instead" if report.status == "confirmed" else
                                                         "; a bureau_admin confirms it"), status_now=report.status)
    await session.refresh(report)
    if target == "awaiting_bureau":
        return report
    entries = (await entries_of(session, [report_id]))[report_id]
    await enqueue_many(session, [_event(report, e) for e in entries], topics=TOPICS)
    return report


async def amend(*, session: AsyncSession, principal: Principal, registry: RegistryClient, clock: Clock,
                report_id: UUID, entries: list[EntryIn]) -> tuple[ServiceReport, list[UUID]]:
    principal.require(*WRITERS)
    report = await get_readable(session, principal, report_id)
    ensure_station_writable(principal, report.station_id)
    if _needs_bureau(principal, clock, report.month):
        raise NotPermitted(f"{report.month} is more than two months back: the bureau amends it", field="month")
    _no_duplicates(entries)
    if report.status != "confirmed":
        raise Conflict("only a confirmed report is amended; a draft is confirmed first", status_now=report.status)
    known = set((await session.execute(select(ServiceReportEntry.worker_id).where(
        ServiceReportEntry.report_id == report_id))).scalars())
    await _ensure_employed(registry, station_id=report.station_id, month=report.month,
                           worker_ids=[e.worker_id for e in entries if e.worker_id not in known])
    # Serialise amendments of one report: each changed entry's revision goes up by exactly one.
    report = await get_readable(session, principal, report_id, for_update=True)
    current = {e.worker_id: e for e in (await entries_of(session, [report_id]))[report_id]}
    changed: list[ServiceReportEntry] = []
    for entry in entries:
        old = current.get(entry.worker_id)
        if old is None:
            new = ServiceReportEntry(report_id=report_id, worker_id=entry.worker_id, full_time=entry.full_time,
                                     service_hours=entry.service_hours, revision=1)
            session.add(new)
            changed.append(new)
        elif old.full_time != entry.full_time or old.service_hours != entry.service_hours:
            old.full_time, old.service_hours = entry.full_time, entry.service_hours
            old.revision += 1
            old.updated_at = func.now()
            changed.append(old)
    if changed:
        report.amended_at = func.now()
        await session.flush()
        await session.refresh(report)
        await enqueue_many(session, [_event(report, e) for e in changed], topics=TOPICS)
    return report, [e.worker_id for e in changed]


async def list_reports(*, session: AsyncSession, principal: Principal, params: PageParams, station_id: UUID | None,
                       month: str | None, status: str | None):
    stmt = readable(principal)
    if station_id is not None:
        stmt = stmt.where(ServiceReport.station_id == station_id)
    if month is not None:
        stmt = stmt.where(ServiceReport.month == month)
    if status is not None:
        stmt = stmt.where(ServiceReport.status == status)
    return await paginate(session, stmt, params, keys=[ServiceReport.created_at, ServiceReport.id])
