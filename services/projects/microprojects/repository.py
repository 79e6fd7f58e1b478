"""Micro-project queries; every read goes through `readable(principal)`."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Select, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.activities.models import Activity
from services.projects.microprojects.models import MicroProject
from shared.auth import Principal, Role
from shared.errors import NotFound


def readable(principal: Principal) -> Select:
    """Projects this caller may see: everything for bureau staff and services, own stations for a station
    manager, and for a social worker the projects with an activity listing them."""
    stmt = select(MicroProject)
    if principal.reads_everything:
        return stmt
    conditions = []
    if Role.STATION_MANAGER in principal.roles and principal.station_ids:
        conditions.append(MicroProject.station_id.in_(principal.station_ids))
    if Role.SOCIAL_WORKER in principal.roles and principal.worker_id is not None:
        conditions.append(exists().where(Activity.project_id == MicroProject.id,
                                         Activity.worker_ids.contains([principal.worker_id])))
    return stmt.where(or_(*conditions) if conditions else false())


async def get_readable(session: AsyncSession, principal: Principal, project_id: UUID) -> MicroProject:
    project = (await session.execute(readable(principal).where(MicroProject.id == project_id))).scalar_one_or_none()
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return project
