"""Totals: workers, stations and certificate holders by level, scoped to what the caller may see."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Integer, case, cast, exists, false, func, or_, select, true, tuple_

from services.registry.certificates.models import Certificate
from services.registry.common import LEVEL_RANK
from services.registry.employments.models import Employment
from services.registry.stations.models import Station
from services.registry.workers.models import Worker
from services.registry.workers.repository import READS_ALL, readable_workers
from shared.auth import CurrentPrincipal, Principal, Role
from shared.clock import bureau_today
from shared.db import SessionDep

router = APIRouter(prefix="/v1", tags=["stats"])


class ByLevel(BaseModel):
    assistant: int = 0
    intermediate: int = 0
    senior: int = 0


class StationHolders(BaseModel):
    """Holders working at the station now (a current, confirmed employment there), at their highest level."""

    station_id: uuid.UUID
    total: int
    by_level: ByLevel


class YearHolders(BaseModel):
    """Holders at the end of the year (this year: today): a verified certificate obtained by then and not all of
    the worker's certificates revoked by then."""

    year: int
    total: int


class Holders(BaseModel):
    total: int
    by_level: ByLevel
    by_station: list[StationHolders] = []
    by_year: list[YearHolders] = []


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


LEVELS = tuple(level.value for level in sorted(LEVEL_RANK, key=LEVEL_RANK.__getitem__))  # by rank, from 1


def _holder_rows(principal: Principal, today: date):
    """One pass over the holders: each worker with a verified certificate once (highest valid level, years their
    holding began and ended) beside the stations where they work now, then counted by (level, stations) and by
    (began, ended); `_holders` spreads the first over the stations. Both sides are grouped by worker from
    index-only scans in worker order (migration 0008) and merged without a sort, hash or window per worker: some
    hundred rows come back with 100,000 workers (bench/dashboard.py). Callers who read everything get no join
    to the workers or stations table: every certificate and employment has its worker and station."""
    rank = case({level.value: r for level, r in LEVEL_RANK.items()}, value=Certificate.level)
    valid = Certificate.status == "valid"
    best = func.max(rank).filter(valid)  # NULL: no valid certificate (a level always has a rank)
    held = (select(Certificate.worker_id.label("worker_id"),
                   best.label("rank"),
                   func.min(Certificate.obtained_on).label("since"),
                   # every certificate revoked: the holding ended with the last revocation
                   case((best.is_not(None), None),
                        else_=func.coalesce(func.max(Certificate.revoked_on), func.min(Certificate.obtained_on)))
                   .label("until"))
            .where(Certificate.verification == "verified")
            .group_by(Certificate.worker_id))
    working = (select(Employment.worker_id.label("worker_id"), func.array_agg(Employment.station_id).label("stations"))
               .where(Employment.station_id.is_not(None), Employment.confirmation == "confirmed",
                      Employment.start_date <= today,
                      or_(Employment.end_date.is_(None), Employment.end_date >= today))
               .group_by(Employment.worker_id))
    if not principal.has_any(*READS_ALL):
        held = held.join(Worker, Worker.id == Certificate.worker_id).where(readable_workers(principal))
        working = working.where(Employment.station_id.in_(select(Station.id).where(_readable_stations(principal))))
    held, working = held.subquery("held"), working.subquery("working")
    began = cast(func.date_part("year", held.c.since), Integer).label("began")
    ended = cast(func.date_part("year", held.c.until), Integer).label("ended")
    return (select(func.grouping(held.c.rank), held.c.rank, working.c.stations, began, ended, func.count())
            .select_from(held.outerjoin(working, working.c.worker_id == held.c.worker_id))
            .group_by(func.grouping_sets(tuple_(held.c.rank, working.c.stations), tuple_(began, ended))))


def _holders(rows, this_year: int) -> dict:
    by_level = dict.fromkeys(LEVELS, 0)
    stations: dict[uuid.UUID, dict] = {}
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for by_year, rank, at, began, ended, n in rows:
        if by_year:  # a (began, ended) row: holdings that began in one year and ended in another (or still go on)
            starts[began] = starts.get(began, 0) + n
            if ended is not None:
                ends[ended] = ends.get(ended, 0) + n
        elif rank is not None:  # a (level, stations) row: holders at that level working at each of those now
            by_level[LEVELS[rank - 1]] += n
            for station_id in set(at or ()):  # two current employments at one station count once
                station = stations.setdefault(station_id, {"station_id": station_id, "total": 0,
                                                           "by_level": dict.fromkeys(LEVELS, 0)})
                station["by_level"][LEVELS[rank - 1]] += n
                station["total"] += n
    by_year, held = [], 0
    for year in range(min(starts, default=this_year), this_year + 1):
        held += starts.get(year, 0) - ends.get(year, 0)
        by_year.append({"year": year, "total": held})
    return {"total": sum(by_level.values()), "by_level": by_level,
            "by_station": sorted(stations.values(), key=lambda s: (-s["total"], str(s["station_id"]))),
            "by_year": by_year if starts else []}


@router.get("/stats", response_model=Stats)
async def get_stats(session: SessionDep, principal: CurrentPrincipal):
    """A holder is a worker with a valid, verified certificate, counted once at their highest valid level: in
    all, by station (where they work now) and at the end of each year since the first certificate."""
    today = bureau_today()  # "now" and "this year" from the same clock
    rows = (await session.execute(_holder_rows(principal, today))).all()
    workers, stations = (await session.execute(select(
        select(func.count()).select_from(Worker).where(readable_workers(principal)).scalar_subquery(),
        select(func.count()).select_from(Station).where(_readable_stations(principal)).scalar_subquery()))).one()
    return {"workers": workers, "stations": stations, "certificate_holders": _holders(rows, today.year)}
