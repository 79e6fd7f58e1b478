"""Employment rules: the employer exists, a station manager hires only at their stations, and full-time
employments of one person never overlap."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.employments.models import Employment
from services.registry.employments.schemas import EmploymentCreate
from services.registry.stations.models import Organization, Station
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotPermitted


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
        if not principal.has_any("bureau_admin", "hr_system") and data.station_id not in principal.station_ids:
            raise NotPermitted("a station manager records employment at their own stations only")
    if data.organization_id is not None:
        if await session.get(Organization, data.organization_id) is None:
            raise Invalid("organization does not exist", field="organization_id")
        if data.station_id is None and not principal.has_any("bureau_admin", "hr_system"):
            raise NotPermitted("a station manager records employment at their own stations only")
    if data.full_time:
        clash = (await session.execute(select(Employment.id).where(
            Employment.worker_id == worker_id, Employment.full_time.is_(True),
            overlaps(data.start_date, data.end_date)).limit(1))).first()
        if clash is not None:
            raise Conflict("this full-time employment overlaps another full-time employment of the worker",
                           field="start_date")
    existing = (await session.execute(select(Employment.id).where(
        Employment.worker_id == worker_id, Employment.station_id == data.station_id,
        Employment.start_date == data.start_date))).first() if data.station_id else None
    if existing is not None:
        raise Conflict("an employment at this station starting that day exists", field="start_date")
    employment = Employment(worker_id=worker_id, **data.model_dump())
    session.add(employment)
    await session.flush()
    return employment


async def employment_check(*, session: AsyncSession, station_id: uuid.UUID, month: str,
                           worker_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Workers with an employment at the station that shares any day with the month."""
    year, mon = int(month[:4]), int(month[5:7])
    first = date(year, mon, 1)
    last = date(year + (mon == 12), mon % 12 + 1, 1).toordinal() - 1
    rows = await session.execute(select(Employment.worker_id).distinct().where(
        Employment.station_id == station_id, Employment.worker_id.in_(worker_ids),
        overlaps(first, date.fromordinal(last))))
    return set(rows.scalars())


__all__ = ["add_employment", "employment_check", "overlaps"]
