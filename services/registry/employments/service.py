"""Employment rules: the employer exists, a station manager hires only at their stations, and full-time
employments of one person never overlap."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.common import today
from services.registry.employments.models import Employment
from services.registry.employments.schemas import EmploymentCreate
from services.registry.stations.models import Organization, Station
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid, NotFound, NotPermitted
from shared.validators import backdated

# Roles whose employment records count at once; a station manager's count at once only if recent.
TRUSTED = (Role.BUREAU_ADMIN, Role.HR_SYSTEM)


def confirmation_for(principal: Principal, start_date: date) -> str:
    """`pending` for a station manager's employment starting more than two months back, else `confirmed`."""
    if principal.has_any(*TRUSTED) or not backdated(start_date.strftime("%Y-%m"), today()):
        return "confirmed"
    return "pending"


def overlaps(start_date: date, end_date: date | None):
    """Employment rows whose period shares at least one day with [start_date, end_date]."""
    far = date(9999, 12, 31)
    return and_(Employment.start_date <= literal(end_date or far),
                func.coalesce(Employment.end_date, far) >= start_date)


async def add_employment(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID,
                         data: EmploymentCreate) -> Employment:
    """The caller has locked the worker row, so two overlapping employments cannot be added at once."""
    if data.station_id is not None:
        if await session.get(Station, data.station_id) is None:
            raise Invalid("station does not exist", field="station_id")
        if not principal.has_any(*TRUSTED) and data.station_id not in principal.station_ids:
            raise NotPermitted("a station manager records employment at their own stations only")
    if data.organization_id is not None:
        if await session.get(Organization, data.organization_id) is None:
            raise Invalid("organization does not exist", field="organization_id")
        if data.station_id is None and not principal.has_any(*TRUSTED):
            raise NotPermitted("a station manager records employment at their own stations only")
    if data.full_time:
        clash = (await session.execute(select(Employment.id).where(
            Employment.worker_id == worker_id, Employment.full_time.is_(True), Employment.confirmation != "rejected",
            overlaps(data.start_date, data.end_date)).limit(1))).first()
        if clash is not None:
            raise Conflict("this full-time employment overlaps another full-time employment of the worker",
                           field="start_date")
    existing = (await session.execute(select(Employment.id).where(
        Employment.worker_id == worker_id, Employment.station_id == data.station_id,
        Employment.start_date == data.start_date))).first() if data.station_id else None
    if existing is not None:
        raise Conflict("an employment at this station starting that day exists", field="start_date")
    confirmation = confirmation_for(principal, data.start_date)
    employment = Employment(worker_id=worker_id, **data.model_dump(), confirmation=confirmation,
                            recorded_by=principal.subject,
                            confirmed_by=principal.subject if confirmation == "confirmed" else None)
    session.add(employment)
    await session.flush()
    await session.refresh(employment)
    return employment


async def decide(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, employment_id: uuid.UUID,
                 confirm: bool) -> Employment:
    """A bureau_admin confirms a pending employment (from then on it counts) or rejects it; conditional update."""
    principal.require(Role.BUREAU_ADMIN)
    employment = (await session.execute(select(Employment).where(
        Employment.id == employment_id, Employment.worker_id == worker_id))).scalar_one_or_none()
    if employment is None:
        raise NotFound(f"employment {employment_id} not found")
    result = await session.execute(
        update(Employment).where(Employment.id == employment_id, Employment.confirmation == "pending")
        .values(confirmation="confirmed" if confirm else "rejected", confirmed_by=principal.subject,
                confirmed_at=func.now()).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"the employment is not pending ({employment.confirmation})", field="employment_id")
    await session.refresh(employment)
    return employment


def pending_statement():
    return select(Employment).where(Employment.confirmation == "pending")


async def employment_check(*, session: AsyncSession, station_id: uuid.UUID, month: str,
                           worker_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Workers with a confirmed employment at the station that shares any day with the month."""
    year, mon = int(month[:4]), int(month[5:7])
    first = date(year, mon, 1)
    last = date(year + (mon == 12), mon % 12 + 1, 1).toordinal() - 1
    rows = await session.execute(select(Employment.worker_id).distinct().where(
        Employment.station_id == station_id, Employment.worker_id.in_(worker_ids),
        Employment.confirmation == "confirmed",
        overlaps(first, date.fromordinal(last))))
    return set(rows.scalars())


__all__ = ["add_employment", "decide", "employment_check", "overlaps", "pending_statement"]
