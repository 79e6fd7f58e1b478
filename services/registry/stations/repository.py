"""Station and organization queries. Stations and organizations are a directory every caller may read."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.stations.models import Organization, Station
from shared.errors import NotFound


async def get_station(session: AsyncSession, station_id: uuid.UUID) -> Station:
    station = await session.get(Station, station_id)
    if station is None:
        raise NotFound(f"station {station_id} not found")
    return station


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    org = await session.get(Organization, organization_id)
    if org is None:
        raise NotFound(f"organization {organization_id} not found")
    return org


async def station_ids_by_name(session: AsyncSession) -> dict[str, uuid.UUID]:
    return {name: sid for sid, name in (await session.execute(select(Station.id, Station.name))).all()}


def stations_statement():
    return select(Station)


def organizations_statement():
    return select(Organization)
