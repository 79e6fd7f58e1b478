"""Rules for stations and organizations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.stations.models import Organization, Station
from services.registry.stations.schemas import OrganizationCreate, StationCreate
from shared.errors import Conflict, Invalid


async def create_station(*, session: AsyncSession, data: StationCreate) -> Station:
    if data.parent_id is not None:
        parent = await session.get(Station, data.parent_id)
        if parent is None:
            raise Invalid("parent station does not exist", field="parent_id")
        if parent.kind != "centre":
            raise Invalid("a station's parent must be a guidance centre", field="parent_id")
    if data.operating_organization_id is not None and \
            await session.get(Organization, data.operating_organization_id) is None:
        raise Invalid("operating organization does not exist", field="operating_organization_id")
    if (await session.execute(select(Station.id).where(Station.name == data.name))).first():
        raise Conflict(f"a station named {data.name} exists", field="name")
    station = Station(**data.model_dump())
    session.add(station)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"a station named {data.name} exists", field="name") from None
    return station


async def create_organization(*, session: AsyncSession, data: OrganizationCreate) -> Organization:
    if (await session.execute(select(Organization.id).where(Organization.credit_code == data.credit_code))).first():
        raise Conflict("an organization with this credit code exists", field="credit_code")
    org = Organization(**data.model_dump())
    session.add(org)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("an organization with this credit code exists", field="credit_code") from None
    return org


