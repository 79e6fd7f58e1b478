"""HTTP: a worker's eligibility for a policy, month by month with reasons."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.subsidy.eligibility import service
from services.subsidy.eligibility.schemas import EligibilityRead, StatementRead
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.validators import MONTH_PATTERN

router = APIRouter(prefix="/v1/workers", tags=["eligibility"])
MONTH = MONTH_PATTERN


@router.get("/{worker_id}/eligibility", response_model=EligibilityRead)
async def get_eligibility(
    worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
    policy: Annotated[str, Query(min_length=1, max_length=100)],
    through: Annotated[str, Query(pattern=MONTH, examples=["2024-12"])],
    from_month: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
):
    """Per month: payable or not, the rule that decided and why, the level and amount, the ledger's net.
    404 for a worker the caller may not see or this service has never heard of."""
    return await service.eligibility(session=session, principal=principal, worker_id=worker_id,
                                     policy_code=policy, through=through, from_month=from_month)


@router.get("/{worker_id}/statement", response_model=StatementRead, tags=["payments"])
async def get_statement(
    worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
    policy: Annotated[str, Query(min_length=1, max_length=100)],
    through: Annotated[str, Query(pattern=MONTH, examples=["2024-12"])],
    from_month: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
):
    """Per month: due now, paid, pending, top-ups, recovered, net, and why (the rule and the latest entry's
    reason). For the worker themselves, their station manager, the bureau and auditors; 404 for anyone else."""
    return await service.statement(session=session, principal=principal, worker_id=worker_id,
                                   policy_code=policy, through=through, from_month=from_month)
