"""Who may see which worker's subsidy data: the filter every read query applies (others get 404)."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Uuid, false, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.facts.models import ServiceMonthFact
from shared.auth import Principal, Role
from shared.errors import NotFound

# Who may use the subsidy service at all (everything here is payment data): HR systems exchange registry
# data only, and the services call the registry only. Anyone else gets 403 on every route.
SUBSIDY_ROLES = (Role.BUREAU_ADMIN, Role.AUDITOR, Role.STATION_MANAGER, Role.SOCIAL_WORKER)


def readable_workers(principal: Principal, worker_col) -> ColumnElement[bool]:
    """bureau_admin and auditor read everything; a station manager the workers with service
    months at their stations; a social worker only themselves; anyone else nothing."""
    if principal.reads_everything:
        return true()
    clauses = []
    if principal.has_any(Role.STATION_MANAGER) and principal.station_ids:
        clauses.append(worker_col.in_(select(ServiceMonthFact.worker_id).where(
            ServiceMonthFact.station_id.in_(list(principal.station_ids)))))
    if principal.has_any(Role.SOCIAL_WORKER) and principal.worker_id is not None:
        clauses.append(worker_col == principal.worker_id)
    if not clauses:
        return false()
    return or_(*clauses)


async def ensure_readable(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID) -> None:
    """404 for a worker this caller may not see (so a scoped list is not mistaken for an empty one)."""
    if principal.reads_everything:
        return
    ok = await session.scalar(select(literal(True)).where(
        readable_workers(principal, literal(worker_id, Uuid()))))
    if not ok:
        raise NotFound("no such worker")
