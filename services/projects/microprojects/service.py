"""Micro-project rules: creation, the lifecycle state machine, and budget allocation from the call.

Lifecycle: draft -> submitted -> approved | rejected; approved -> in_progress -> completed -> closed.
Every transition is one conditional UPDATE ... WHERE status = <expected>; no row means someone else moved
the project first (or the move is illegal), answered 409. Approval adds the approved budget to the call's
`allocated_fen` with a conditional UPDATE that refuses to pass `total_budget_fen`, so concurrent approvals
can never allocate more than the call holds. Closing gives the unspent part back to the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.calls.models import FundCall
from services.projects.common import Clock, ensure_station_writable
from services.projects.microprojects import repository
from services.projects.microprojects.models import MicroProject
from services.projects.microprojects.schemas import ProjectCreate
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid
from shared.pagination import PageParams, paginate
from shared.registry_client import RegistryClient

WRITERS = (Role.STATION_MANAGER, Role.BUREAU_ADMIN)
REVIEWERS = (Role.BUREAU_ADMIN,)


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    roles: tuple[str, ...]


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition("draft", "submitted", WRITERS),
    "approve": Transition("submitted", "approved", REVIEWERS),
    "reject": Transition("submitted", "rejected", REVIEWERS),
    "start": Transition("approved", "in_progress", WRITERS),
    "complete": Transition("in_progress", "completed", WRITERS),
    "close": Transition("completed", "closed", REVIEWERS),
}


async def create_project(*, session: AsyncSession, principal: Principal, registry: RegistryClient,
                         data: ProjectCreate) -> MicroProject:
    principal.require(*WRITERS)
    ensure_station_writable(principal, data.station_id)
    call = await session.get(FundCall, data.call_id)
    if call is None:
        raise Invalid(f"call {data.call_id} does not exist", field="call_id")
    if data.category.value not in call.categories:
        raise Invalid(f"the call funds {', '.join(call.categories)}, not {data.category.value}", field="category")
    if data.requested_budget_fen > call.total_budget_fen:
        raise Invalid("the request exceeds the call's whole budget", field="requested_budget_fen")
    if await registry.get_station(data.station_id) is None:
        raise Invalid(f"station {data.station_id} is not in the registry", field="station_id")
    project = MicroProject(
        call_id=call.id, station_id=data.station_id, lead_organization=data.lead_organization, title=data.title,
        category=data.category.value, goals=data.goals, partners=[p.model_dump(mode="json") for p in data.partners],
        requested_budget_fen=data.requested_budget_fen, spent_fen=0, status="draft", created_by=principal.subject)
    session.add(project)
    await session.flush()
    await session.refresh(project)
    return project


async def _move(*, session: AsyncSession, principal: Principal, project_id: UUID, action: str,
                **values) -> tuple[MicroProject, dict]:
    """Check who may act, then the conditional UPDATE; returns the project (refreshed) and the updated row."""
    step = TRANSITIONS[action]
    principal.require(*step.roles)
    project = await repository.get_readable(session, principal, project_id)
    ensure_station_writable(principal, project.station_id)
    stmt = (update(MicroProject)
            .where(MicroProject.id == project_id, MicroProject.status == step.source)
            .values(status=step.target, updated_at=func.now(), **values)
            .returning(MicroProject.approved_budget_fen, MicroProject.spent_fen, MicroProject.call_id)
            .execution_options(synchronize_session=False))
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        await session.refresh(project)
        raise Conflict(f"the project is {project.status}; {action} needs a {step.source} project",
                       status_now=project.status, action=action)
    return project, row._asdict()


async def submit(*, session: AsyncSession, principal: Principal, clock: Clock, project_id: UUID) -> MicroProject:
    principal.require(*WRITERS)
    project = await repository.get_readable(session, principal, project_id)
    ensure_station_writable(principal, project.station_id)
    call = await session.get(FundCall, project.call_id)
    today = clock.today()
    if today < call.window_opens:
        raise Invalid(f"the call's window opens on {call.window_opens}", field="window_opens")
    if today > call.window_closes:
        raise Invalid(f"the call's window closed on {call.window_closes}", field="window_closes")
    project, _ = await _move(session=session, principal=principal, project_id=project_id, action="submit",
                             submitted_at=func.now())
    await session.refresh(project)
    return project


async def approve(*, session: AsyncSession, principal: Principal, project_id: UUID, approved_budget_fen: int,
                  reason: str | None) -> MicroProject:
    principal.require(*REVIEWERS)
    project = await repository.get_readable(session, principal, project_id)
    if approved_budget_fen > project.requested_budget_fen:
        raise Invalid(f"more than the {project.requested_budget_fen} fen requested", field="approved_budget_fen")
    project, row = await _move(session=session, principal=principal, project_id=project_id, action="approve",
                               approved_budget_fen=approved_budget_fen, decided_at=func.now(),
                               decided_by=principal.subject, decision_reason=reason)
    # The guard and the increment are one statement: the row lock serialises concurrent approvals.
    allocated = (await session.execute(
        update(FundCall)
        .where(FundCall.id == row["call_id"],
               FundCall.allocated_fen + approved_budget_fen <= FundCall.total_budget_fen)
        .values(allocated_fen=FundCall.allocated_fen + approved_budget_fen)
        .returning(FundCall.allocated_fen)
        .execution_options(synchronize_session=False))).scalar_one_or_none()
    if allocated is None:
        remaining = (await session.execute(
            select(FundCall.total_budget_fen - FundCall.allocated_fen).where(FundCall.id == row["call_id"]))).scalar()
        raise Invalid(f"the call has only {remaining} fen left", field="approved_budget_fen", remaining_fen=remaining)
    await session.refresh(project)
    return project


async def reject(*, session: AsyncSession, principal: Principal, project_id: UUID, reason: str | None) -> MicroProject:
    project, _ = await _move(session=session, principal=principal, project_id=project_id, action="reject",
                             decided_at=func.now(), decided_by=principal.subject, decision_reason=reason)
    await session.refresh(project)
    return project


async def simple_step(*, session: AsyncSession, principal: Principal, project_id: UUID, action: str) -> MicroProject:
    project, row = await _move(session=session, principal=principal, project_id=project_id, action=action)
    if action == "close":
        unspent = (row["approved_budget_fen"] or 0) - row["spent_fen"]
        if unspent:
            await session.execute(update(FundCall).where(FundCall.id == row["call_id"])
                                  .values(allocated_fen=FundCall.allocated_fen - unspent)
                                  .execution_options(synchronize_session=False))
    await session.refresh(project)
    return project


async def list_projects(*, session: AsyncSession, principal: Principal, params: PageParams, status: str | None,
                        station_id: UUID | None, call_id: UUID | None):
    stmt = repository.readable(principal)
    if status is not None:
        stmt = stmt.where(MicroProject.status == status)
    if station_id is not None:
        stmt = stmt.where(MicroProject.station_id == station_id)
    if call_id is not None:
        stmt = stmt.where(MicroProject.call_id == call_id)
    return await paginate(session, stmt, params, keys=[MicroProject.created_at, MicroProject.id])
