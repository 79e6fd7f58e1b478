"""Applications (申报): submit, review (the reviewer is never the submitter), read within scope."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.applications.models import Application
from services.subsidy.eligibility.service import ensure_readable
from services.subsidy.policies.service import versions
from shared.auth import Principal, Role
from shared.errors import Conflict, NotFound, NotPermitted


def readable(principal: Principal) -> Select:
    return select(Application).where(readable_workers(principal, Application.worker_id))


async def submit(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, policy_code: str) -> Application:
    principal.require(Role.BUREAU_ADMIN, Role.STATION_MANAGER, Role.SOCIAL_WORKER)
    await ensure_readable(session=session, principal=principal, worker_id=worker_id)
    await versions(session=session, code=policy_code)
    app_id = uuid.uuid4()
    created = (await session.execute(
        insert(Application).values(id=app_id, worker_id=worker_id, policy_code=policy_code, status="submitted",
                                   submitted_by=principal.subject)
        .on_conflict_do_nothing(index_elements=["worker_id", "policy_code"],
                                index_where=text("status IN ('submitted', 'approved')"))
        .returning(Application.id))).scalar()
    if created is None:
        raise Conflict("this worker already has an open or approved application for this policy",
                       field="worker_id")
    return await session.get(Application, app_id)


async def get(*, session: AsyncSession, principal: Principal, application_id: uuid.UUID) -> Application:
    found = await session.scalar(readable(principal).where(Application.id == application_id))
    if found is None:
        raise NotFound("no such application")
    return found


async def decide(*, session: AsyncSession, principal: Principal, application_id: uuid.UUID, approve: bool,
                 reason: str | None) -> Application:
    principal.require(Role.BUREAU_ADMIN)
    current = await get(session=session, principal=principal, application_id=application_id)
    if current.submitted_by == principal.subject:
        raise NotPermitted("the reviewer may not be the submitter of the application")
    result = await session.execute(
        update(Application)
        .where(Application.id == application_id, Application.status == "submitted",
               Application.submitted_by != principal.subject)
        .values(status="approved" if approve else "rejected", reviewed_by=principal.subject,
                decision_reason=reason, decided_at=func.now())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict("the application has already been decided")
    await session.refresh(current)
    return current
