"""Totals: workers, stations and certificate holders by level, scoped to what the caller may see."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import case, exists, false, func, or_, select, true

from services.registry.certificates.models import Certificate
from services.registry.employments.models import Employment
from services.registry.stations.models import Station
from services.registry.workers.models import Worker
from services.registry.workers.repository import READS_ALL, readable_workers
from shared.auth import CurrentPrincipal, Principal, Role
from shared.db import SessionDep

router = APIRouter(prefix="/v1", tags=["stats"])


class ByLevel(BaseModel):
    assistant: int
    intermediate: int
    senior: int


class Holders(BaseModel):
    total: int
    by_level: ByLevel


class Stats(BaseModel):
    workers: int
    stations: int
    certificate_holders: Holders


def _readable_stations(principal: Principal):
    if principal.has_any(*READS_ALL):
        return true()
    clauses = []
    if principal.has_any(Role.STATION_MANAGER):
        clauses.append(Station.id.in_(list(principal.station_ids)))
    if principal.has_any(Role.SOCIAL_WORKER) and principal.worker_id is not None:
        clauses.append(exists().where(Employment.station_id == Station.id,
                                      Employment.worker_id == principal.worker_id))
    return or_(*clauses) if clauses else false()


@router.get("/stats", response_model=Stats)
async def get_stats(session: SessionDep, principal: CurrentPrincipal):
    """A holder is a worker with a valid certificate, counted once at their highest valid level."""
    rank = case({"assistant": 1, "intermediate": 2, "senior": 3}, value=Certificate.level)
    highest = (select(Certificate.worker_id, func.max(rank).label("rank"))
               .join(Worker, Worker.id == Certificate.worker_id)
               .where(Certificate.status == "valid", Certificate.verification == "verified",
                      readable_workers(principal))
               .group_by(Certificate.worker_id).subquery())
    by_rank = dict((await session.execute(select(highest.c.rank, func.count()).group_by(highest.c.rank))).all())
    workers = (await session.execute(select(func.count()).select_from(Worker).where(
        readable_workers(principal)))).scalar_one()
    stations = (await session.execute(select(func.count()).select_from(Station).where(
        _readable_stations(principal)))).scalar_one()
    levels = {"assistant": by_rank.get(1, 0), "intermediate": by_rank.get(2, 0), "senior": by_rank.get(3, 0)}
    return {"workers": workers, "stations": stations,
            "certificate_holders": {"total": sum(levels.values()), "by_level": levels}}
