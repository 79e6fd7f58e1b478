"""One-off talent awards: the worker must exist, the amount comes from the award type, a second bureau_admin
approves, and only a disbursement batch pays them (the next batch includes every approved award not yet paid)."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.ledger.models import Award, AwardType
from services.subsidy.ledger.schemas import AwardCreate
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid, NotFound, NotPermitted, Unavailable
from shared.registry_client import RegistryClient


async def record(*, session: AsyncSession, principal: Principal, data: AwardCreate,
                 registry: RegistryClient | None) -> Award:
    principal.require(Role.BUREAU_ADMIN)
    kind = await session.get(AwardType, data.award_type)
    if kind is None or not kind.active:
        raise Invalid(f"no award type {data.award_type!r}", field="award_type")
    if registry is None:
        raise Unavailable("the registry is not configured: the worker cannot be checked", upstream="registry")
    if not await registry.lookup_workers([data.worker_id]):
        raise Invalid("no such worker in the registry", field="worker_id")
    award = Award(worker_id=data.worker_id, award_type=kind.code, title=data.title or kind.name,
                  amount_fen=kind.amount_fen, awarded_on=data.awarded_on, status="recorded",
                  recorded_by=principal.subject)
    session.add(award)
    await session.flush()
    await session.refresh(award)
    return award


def readable(principal: Principal) -> Select:
    return select(Award).where(readable_workers(principal, Award.worker_id))


async def decide(*, session: AsyncSession, principal: Principal, award_id: uuid.UUID, approve: bool,
                 reason: str | None) -> Award:
    principal.require(Role.BUREAU_ADMIN)
    award = await session.scalar(readable(principal).where(Award.id == award_id))
    if award is None:
        raise NotFound("no such award")
    if award.recorded_by == principal.subject:
        raise NotPermitted("an award is approved by another bureau_admin than the one who recorded it")
    result = await session.execute(
        update(Award).where(Award.id == award_id, Award.status == "recorded", Award.recorded_by != principal.subject)
        .values(status="approved" if approve else "rejected", decided_by=principal.subject, decision_reason=reason,
                decided_at=func.now())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"the award is already {award.status}")
    await session.refresh(award)
    return award


def types() -> Select:
    return select(AwardType).where(AwardType.active).order_by(AwardType.code)
