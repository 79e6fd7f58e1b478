"""Internal API for the other services (role `service`, or bureau_admin): stations, employment, look-up."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.registry.deps import CipherDep
from services.registry.employments import service as employments
from services.registry.stations import repository as stations
from services.registry.stations.schemas import InternalStationRead
from services.registry.workers import repository as workers
from services.registry.workers.models import Worker
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.validators import MONTH_PATTERN, mask_id_number, mask_phone

router = APIRouter(prefix="/v1/internal", tags=["internal"], dependencies=[allow(Role.SERVICE, Role.BUREAU_ADMIN)])


class EmploymentCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: uuid.UUID
    month: str = Field(pattern=MONTH_PATTERN)
    worker_ids: list[uuid.UUID] = Field(max_length=10000)


class EmploymentCheckResult(BaseModel):
    station_id: uuid.UUID
    month: str
    employed: list[uuid.UUID]
    not_employed: list[uuid.UUID]


class WorkerLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_ids: list[uuid.UUID] = Field(max_length=10000)


class WorkerLookupItem(BaseModel):
    id: uuid.UUID
    name: str
    id_number_masked: str
    phone_masked: str | None
    station_ids: list[uuid.UUID]
    bank_account: str | None = None


class WorkerLookupResult(BaseModel):
    items: list[WorkerLookupItem]


@router.get("/stations/{station_id}", response_model=InternalStationRead)
async def internal_get_station(station_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await stations.get_station(session, station_id)


@router.post("/employment-check", response_model=EmploymentCheckResult)
async def internal_employment_check(data: EmploymentCheck, session: SessionDep, principal: CurrentPrincipal):
    """Which workers had an employment at the station sharing any day with the month."""
    await stations.get_station(session, data.station_id)
    employed = await employments.employment_check(session=session, station_id=data.station_id, month=data.month,
                                                  worker_ids=data.worker_ids)
    unique = list(dict.fromkeys(data.worker_ids))
    return {"station_id": data.station_id, "month": data.month,
            "employed": [w for w in unique if w in employed], "not_employed": [w for w in unique if w not in employed]}


@router.post("/workers/lookup", response_model=WorkerLookupResult)
async def internal_workers_lookup(data: WorkerLookup, session: SessionDep, principal: CurrentPrincipal,
                                  cipher: CipherDep):
    """Names and masked identifiers of the given workers (unknown ids are left out)."""
    ids = list(dict.fromkeys(data.worker_ids))
    rows = list((await session.execute(select(Worker).where(Worker.id.in_(ids)))).scalars())
    station_ids = await workers.station_ids_of(session, [w.id for w in rows])
    items = []
    for w in rows:
        phone = cipher.decrypt(w.phone_enc) if w.phone_enc else None
        items.append({"id": w.id, "name": w.name, "id_number_masked": mask_id_number(cipher.decrypt(w.id_number_enc)),
                      "phone_masked": mask_phone(phone) if phone else None, "station_ids": station_ids[w.id],
                      "bank_account": None})
    order = {w: i for i, w in enumerate(ids)}
    items.sort(key=lambda item: order[item["id"]])
    return {"items": items}
