"""Totals: workers, stations and certificate holders by level, scoped to what the caller may see."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import (
    Integer,
    Text,
    case,
    cast,
    distinct,
    exists,
    extract,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)

from services.registry.certificates.models import Certificate
from services.registry.common import LEVEL_RANK
from services.registry.employments.models import Employment
from services.registry.stations.models import Station
from services.registry.workers.models import Worker
from services.registry.workers.repository import READS_ALL, readable_workers
from shared.auth import CurrentPrincipal, Principal, Role
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
    """One statement, the holders computed once: per level now, per station and level now, and the years in
    which holdings began and ended (for the count at each year's end). Aggregates only: with 100,000 workers
    the answer is some twenty rows (bench/dashboard.py)."""
    rank = case({level.value: r for level, r in LEVEL_RANK.items()}, value=Certificate.level)
    valid = Certificate.status == "valid"
    held = (select(Certificate.worker_id.label("worker_id"),
                   func.max(rank).filter(valid).label("rank"),
                   func.min(Certificate.obtained_on).label("since"),
                   # every certificate revoked: the holding ended with the last revocation
                   case((func.bool_or(valid), None),
                        else_=func.coalesce(func.max(Certificate.revoked_on), func.min(Certificate.obtained_on)))
                   .label("until"))
            .join(Worker, Worker.id == Certificate.worker_id)
            .where(Certificate.verification == "verified", readable_workers(principal))
            .group_by(Certificate.worker_id).cte("held"))
    no_key, no_rank = literal(None, Text), literal(None, Integer)
    by_level = (select(literal("level"), no_key, held.c.rank, func.count())
                .where(held.c.rank.is_not(None)).group_by(held.c.rank))
    by_station = (select(literal("station"), cast(Employment.station_id, Text), held.c.rank,
                         func.count(distinct(held.c.worker_id)))
                  .join(Employment, Employment.worker_id == held.c.worker_id)
                  .where(held.c.rank.is_not(None), Employment.station_id.is_not(None),
                         Employment.confirmation == "confirmed", Employment.start_date <= today,
                         or_(Employment.end_date.is_(None), Employment.end_date >= today),
                         Employment.station_id.in_(select(Station.id).where(_readable_stations(principal))))
                  .group_by(Employment.station_id, held.c.rank))
    began = cast(extract("year", held.c.since), Integer)
    ended = cast(extract("year", held.c.until), Integer)
    starts = select(literal("start"), cast(began, Text), no_rank, func.count()).group_by(began)
    ends = (select(literal("end"), cast(ended, Text), no_rank, func.count())
            .where(held.c.until.is_not(None)).group_by(ended))
    return union_all(by_level, by_station, starts, ends)


def _holders(rows, this_year: int) -> dict:
    by_level = dict.fromkeys(LEVELS, 0)
    stations: dict[str, dict] = {}
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for kind, key, rank, n in rows:
        if kind == "level":
            by_level[LEVELS[rank - 1]] = n
        elif kind == "station":
            station = stations.setdefault(key, {"station_id": key, "total": 0, "by_level": dict.fromkeys(LEVELS, 0)})
            station["by_level"][LEVELS[rank - 1]] = n
            station["total"] += n
        else:
            (starts if kind == "start" else ends)[int(key)] = n
    by_year, held = [], 0
    for year in range(min(starts, default=this_year), this_year + 1):
        held += starts.get(year, 0) - ends.get(year, 0)
        by_year.append({"year": year, "total": held})
    return {"total": sum(by_level.values()), "by_level": by_level,
            "by_station": sorted(stations.values(), key=lambda s: (-s["total"], s["station_id"])),
            "by_year": by_year if starts else []}


@router.get("/stats", response_model=Stats)
async def get_stats(session: SessionDep, principal: CurrentPrincipal):
    """A holder is a worker with a valid, verified certificate, counted once at their highest valid level: in
    all, by station (where they work now) and at the end of each year since the first certificate."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # "now" and "this year" from the same clock
    rows = (await session.execute(_holder_rows(principal, today))).all()
    workers = (await session.execute(select(func.count()).select_from(Worker).where(
        readable_workers(principal)))).scalar_one()
    stations = (await session.execute(select(func.count()).select_from(Station).where(
        _readable_stations(principal)))).scalar_one()
    return {"workers": workers, "stations": stations, "certificate_holders": _holders(rows, today.year)}
