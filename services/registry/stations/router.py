"""HTTP routes for stations and organizations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.registry.stations import repository, service
from services.registry.stations.models import Organization, Station
from services.registry.stations.schemas import OrganizationCreate, OrganizationRead, StationCreate, StationRead
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(prefix="/v1", tags=["stations"])
Params = Annotated[PageParams, Depends(page_params)]


@router.post("/stations", status_code=201, response_model=StationRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def create_station(data: StationCreate, session: SessionDep, principal: CurrentPrincipal):
    """Create the guidance centre (指导中心) or a township station (乡镇社工站); bureau_admin only."""
    return await service.create_station(session=session, data=data)


@router.get("/stations", response_model=Page[StationRead])
async def list_stations(session: SessionDep, principal: CurrentPrincipal, params: Params):
    items, cursor = await paginate(session, repository.stations_statement(), params,
                                   keys=[Station.created_at, Station.id])
    return {"items": items, "next_cursor": cursor}


@router.get("/stations/{station_id}", response_model=StationRead)
async def get_station(station_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await repository.get_station(session, station_id)


@router.post("/organizations", status_code=201, response_model=OrganizationRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def create_organization(data: OrganizationCreate, session: SessionDep, principal: CurrentPrincipal):
    """Create a social organization (社会组织); bureau_admin only."""
    return await service.create_organization(session=session, data=data)


@router.get("/organizations", response_model=Page[OrganizationRead])
async def list_organizations(session: SessionDep, principal: CurrentPrincipal, params: Params):
    items, cursor = await paginate(session, repository.organizations_statement(), params,
                                   keys=[Organization.created_at, Organization.id])
    return {"items": items, "next_cursor": cursor}
