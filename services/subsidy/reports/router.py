"""HTTP: reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.subsidy.reports import service
from shared.auth import CurrentPrincipal, Role
from shared.db import SessionDep
from shared.validators import MONTH_PATTERN

router = APIRouter(prefix="/v1/reports", tags=["reports"])
MONTH = MONTH_PATTERN


@router.get("/summary")
async def report_summary(request: Request, session: SessionDep, principal: CurrentPrincipal,
                         policy: Annotated[str, Query(min_length=1, max_length=100)],
                         from_month: Annotated[str, Query(alias="from", pattern=MONTH)],
                         to_month: Annotated[str, Query(alias="to", pattern=MONTH)]):
    """Net paid in the range (paid - recovered; pending not counted), with paid, pending, top-ups, recovered,
    receivable and net by month, level and station (the station each line was paid for). The bureau's and
    auditors' answer is kept until the ledger changes; a station manager's is computed at each call."""
    principal.require(Role.BUREAU_ADMIN, Role.AUDITOR, Role.STATION_MANAGER)
    return await service.summary(session=session, principal=principal, policy_code=policy, from_month=from_month,
                                 to_month=to_month, cache=request.app.state.summary_cache)


@router.get("/forecast")
async def report_forecast(session: SessionDep, principal: CurrentPrincipal,
                          policy: Annotated[str, Query(min_length=1, max_length=100)],
                          months: Annotated[int, Query(ge=1, le=60)] = 12):
    return await service.forecast(session=session, principal=principal, policy_code=policy, months=months)
