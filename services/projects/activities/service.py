"""Activity rules: only for projects in progress, workers employed at the station that month, and the
project's spend never above its approved budget (a conditional UPDATE on projects.spent_fen)."""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.activities.models import Activity
from services.projects.activities.schemas import ActivityCreate, Budget, MonthFigures, ProjectSummary, StationSummary
from services.projects.common import Clock, ensure_station_writable, month_bounds, month_of
from services.projects.microprojects import repository
from services.projects.microprojects.models import MicroProject
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid, NotFound
from shared.pagination import PageParams, paginate
from shared.registry_client import RegistryClient


async def record_activity(*, session: AsyncSession, principal: Principal, registry: RegistryClient, clock: Clock,
                          project_id: UUID, data: ActivityCreate) -> Activity:
    principal.require(Role.STATION_MANAGER, Role.BUREAU_ADMIN)
    project = await repository.get_readable(session, principal, project_id)
    ensure_station_writable(principal, project.station_id)
    if project.status != "in_progress":
        raise Conflict(f"activities are recorded for projects in progress; this one is {project.status}",
                       status_now=project.status)
    if data.date > clock.today():
        raise Invalid("an activity cannot be recorded before it happens", field="date")
    if len(set(data.worker_ids)) != len(data.worker_ids):
        raise Invalid("a worker is listed twice", field="worker_ids")
    month = month_of(data.date)
    # The registry call happens before any row is locked: a slow registry never holds our locks.
    check = await registry.employment_check(station_id=project.station_id, month=month, worker_ids=data.worker_ids)
    if check is None:
        raise Invalid(f"station {project.station_id} is no longer in the registry", field="station_id")
    missing = [w for w in data.worker_ids if w not in check.employed]
    if missing:
        raise Invalid(f"not employed at the project's station in {month}: {', '.join(map(str, missing))}",
                      field="worker_ids", not_employed=[str(w) for w in missing])
    spent = (await session.execute(
        update(MicroProject)
        .where(MicroProject.id == project_id, MicroProject.status == "in_progress",
               MicroProject.spent_fen + data.expense_fen <= MicroProject.approved_budget_fen)
        .values(spent_fen=MicroProject.spent_fen + data.expense_fen, updated_at=func.now())
        .returning(MicroProject.spent_fen)
        .execution_options(synchronize_session=False))).scalar_one_or_none()
    if spent is None:
        await session.refresh(project)
        if project.status != "in_progress":
            raise Conflict(f"the project is {project.status} now", status_now=project.status)
        left = (project.approved_budget_fen or 0) - project.spent_fen
        raise Invalid(f"the expense exceeds the project's remaining budget of {left} fen", field="expense_fen",
                      remaining_fen=left)
    activity = Activity(
        project_id=project_id, station_id=project.station_id, date=data.date, title=data.title,
        worker_ids=list(data.worker_ids), beneficiaries={k: v for k, v in data.beneficiaries.model_dump().items() if v},
        volunteer_count=data.volunteer_count, volunteer_hours=data.volunteer_hours,
        charitable_resources=[c.model_dump(mode="json") for c in data.charitable_resources],
        expense_fen=data.expense_fen, created_by=principal.subject)
    session.add(activity)
    await session.flush()
    await session.refresh(activity)
    return activity


async def list_activities(*, session: AsyncSession, principal: Principal, project_id: UUID, params: PageParams):
    await repository.get_readable(session, principal, project_id)
    stmt = select(Activity).where(Activity.project_id == project_id)
    return await paginate(session, stmt, params, keys=[Activity.created_at, Activity.id])


_FIGURES = """
SELECT to_char(a.date, 'YYYY-MM') AS month, count(*) AS activities, coalesce(sum(a.expense_fen), 0) AS expense,
       coalesce(sum(a.volunteer_count), 0) AS volunteers, coalesce(sum(a.volunteer_hours), 0) AS hours,
       coalesce(sum((SELECT coalesce(sum((r->>'amount_fen')::bigint), 0)
                     FROM jsonb_array_elements(a.charitable_resources) r)), 0) AS charitable
FROM activities a WHERE {where} GROUP BY 1 ORDER BY 1"""
_GROUPS = """
SELECT to_char(a.date, 'YYYY-MM') AS month, b.key, sum(b.value::bigint) AS people
FROM activities a CROSS JOIN LATERAL jsonb_each_text(a.beneficiaries) b WHERE {where} GROUP BY 1, 2"""


async def _figures(session: AsyncSession, where: str, params: dict) -> tuple[MonthFigures, list[MonthFigures]]:
    """Per month: activities, spend, volunteers, charitable resources and people served by target group."""
    rows = (await session.execute(text(_FIGURES.format(where=where)), params)).all()
    by_group: dict[str, dict[str, int]] = defaultdict(dict)
    for month, key, people in (await session.execute(text(_GROUPS.format(where=where)), params)).all():
        by_group[month][key] = int(people)
    months = [MonthFigures(month=r.month, activities=r.activities, expense_fen=int(r.expense),
                           volunteer_count=int(r.volunteers), volunteer_hours=float(r.hours),
                           charitable_fen=int(r.charitable), beneficiaries=by_group[r.month])
              for r in rows]
    total_groups: dict[str, int] = defaultdict(int)
    for m in months:
        for key, count in m.beneficiaries.items():
            total_groups[key] += count
    totals = MonthFigures(month="total", activities=sum(m.activities for m in months),
                          expense_fen=sum(m.expense_fen for m in months),
                          volunteer_count=sum(m.volunteer_count for m in months),
                          volunteer_hours=round(sum(m.volunteer_hours for m in months), 2),
                          charitable_fen=sum(m.charitable_fen for m in months), beneficiaries=dict(total_groups))
    return totals, months


async def project_summary(*, session: AsyncSession, principal: Principal, project_id: UUID) -> ProjectSummary:
    project = await repository.get_readable(session, principal, project_id)
    totals, months = await _figures(session, "a.project_id = :project_id", {"project_id": project_id})
    approved = project.approved_budget_fen or 0
    return ProjectSummary(project_id=project.id, status=project.status, totals=totals, by_month=months,
                          budget=Budget(approved_fen=approved, spent_fen=project.spent_fen,
                                        remaining_fen=approved - project.spent_fen))


async def station_summary(*, session: AsyncSession, principal: Principal, station_id: UUID,
                          from_month: str | None, to_month: str | None) -> StationSummary:
    if not (principal.reads_everything
            or (Role.STATION_MANAGER in principal.roles and station_id in principal.station_ids)):
        raise NotFound(f"station {station_id} not found")
    if from_month and to_month and from_month > to_month:
        raise Invalid("the range ends before it starts", field="to")
    where, params = "a.station_id = :station_id", {"station_id": station_id}
    if from_month:
        where, params["start"] = where + " AND a.date >= :start", month_bounds(from_month)[0]
    if to_month:
        where, params["end"] = where + " AND a.date <= :end", month_bounds(to_month)[1]
    totals, months = await _figures(session, where, params)
    by_status = dict((await session.execute(
        select(MicroProject.status, func.count()).where(MicroProject.station_id == station_id)
        .group_by(MicroProject.status))).all())
    approved, spent = (await session.execute(
        select(func.coalesce(func.sum(MicroProject.approved_budget_fen), 0),
               func.coalesce(func.sum(MicroProject.spent_fen), 0))
        .where(MicroProject.station_id == station_id,
               MicroProject.status.in_(("approved", "in_progress", "completed", "closed"))))).one()
    return StationSummary(station_id=station_id, from_month=from_month, to_month=to_month,
                          projects_by_status=by_status, spent_in_range_fen=totals.expense_fen, totals=totals,
                          by_month=months, budget=Budget(approved_fen=int(approved), spent_fen=int(spent),
                                                         remaining_fen=int(approved) - int(spent)))
