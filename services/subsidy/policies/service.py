"""Policy versions: lookup, new versions, and conversion to the rules' terms."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.eligibility.rules import PolicyTerms
from services.subsidy.ledger.models import LedgerLine
from services.subsidy.policies.models import Policy
from services.subsidy.policies.schemas import PolicyVersionCreate, PolicyVersionUpdate
from shared.errors import Conflict, Invalid, NotFound


def terms_of(policy: Policy) -> PolicyTerms:
    return PolicyTerms(
        id=policy.id, code=policy.code, version=policy.version, division_code=policy.division_code,
        certificates_from=policy.certificates_from,
        rates={"senior": policy.rate_senior_fen, "intermediate": policy.rate_intermediate_fen,
               "assistant": policy.rate_assistant_fen},
        qualifying_months=policy.qualifying_months, cap_months=policy.cap_months,
        effective_from=policy.effective_from, effective_to=policy.effective_to)


async def list_policies(*, session: AsyncSession) -> list[Policy]:
    return list(await session.scalars(select(Policy).order_by(Policy.code, Policy.version)))


async def versions(*, session: AsyncSession, code: str, field: str = "policy") -> list[Policy]:
    found = list(await session.scalars(select(Policy).where(Policy.code == code).order_by(Policy.version)))
    if not found:
        raise Invalid(f"no policy with code {code!r}", field=field)
    return found


async def versions_or_404(*, session: AsyncSession, code: str) -> list[Policy]:
    found = list(await session.scalars(select(Policy).where(Policy.code == code).order_by(Policy.version)))
    if not found:
        raise NotFound(f"no policy with code {code!r}")
    return found


async def create_version(*, session: AsyncSession, code: str, data: PolicyVersionCreate, created_by: str) -> Policy:
    existing = await versions_or_404(session=session, code=code)
    latest = existing[-1]
    # Serialize version numbering per code; the unique (code, version) is the backstop.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("policy:" + code))))
    latest_version = await session.scalar(select(func.max(Policy.version)).where(Policy.code == code))
    if latest_version != latest.version:
        raise Conflict("another version was created at the same time; retry")
    values = {k: getattr(latest, k) for k in (
        "name", "division_code", "certificates_from", "rate_senior_fen", "rate_intermediate_fen",
        "rate_assistant_fen", "qualifying_months", "cap_months")}
    values.update(data.model_dump(exclude_unset=True, exclude_none=True))
    values["effective_to"] = data.effective_to
    policy = Policy(code=code, version=latest.version + 1, created_by=created_by, **values)
    session.add(policy)
    await session.flush()
    await session.refresh(policy)
    return policy


async def update_version(*, session: AsyncSession, code: str, version: int, data: PolicyVersionUpdate) -> Policy:
    """Only while nothing has been paid under the version; the row lock makes a batch wait or see the change."""
    policy = await session.scalar(select(Policy).where(Policy.code == code, Policy.version == version)
                                  .with_for_update())
    if policy is None:
        raise NotFound(f"no version {version} of policy {code!r}")
    # A batch takes the same per-policy lock before writing lines, so it cannot slip in between.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("batch:" + code))))
    if await session.scalar(select(exists().where(LedgerLine.policy_id == policy.id))):
        raise Conflict("this version has paid subsidies and cannot change; create a new version")
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key != "effective_to":
            raise Invalid(f"{key} cannot be empty", field=key)
        setattr(policy, key, value)
    if policy.effective_to is not None and policy.effective_to < policy.effective_from:
        raise Invalid("effective_to is before effective_from", field="effective_to")
    await session.flush()
    return policy
