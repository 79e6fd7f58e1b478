"""Fund call rules: bureau admins open calls; everyone signed in may read them."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.calls.models import FundCall
from services.projects.calls.schemas import CallCreate
from shared.auth import Principal, Role
from shared.errors import Invalid, NotFound
from shared.pagination import PageParams, paginate


async def create_call(*, session: AsyncSession, principal: Principal, data: CallCreate) -> FundCall:
    principal.require(Role.BUREAU_ADMIN)
    if data.window_closes < data.window_opens:
        raise Invalid("the window cannot close before it opens", field="window_closes")
    categories = list(dict.fromkeys(c.value for c in data.categories))
    call = FundCall(year=data.year, title=data.title, total_budget_fen=data.total_budget_fen, allocated_fen=0,
                    categories=categories, window_opens=data.window_opens, window_closes=data.window_closes,
                    division_code=data.division_code, created_by=principal.subject)
    session.add(call)
    await session.flush()
    await session.refresh(call)
    return call


async def get_call(*, session: AsyncSession, call_id: UUID) -> FundCall:
    call = await session.get(FundCall, call_id)
    if call is None:
        raise NotFound(f"call {call_id} not found")
    return call


async def list_calls(*, session: AsyncSession, params: PageParams, year: int | None = None):
    stmt = select(FundCall)
    if year is not None:
        stmt = stmt.where(FundCall.year == year)
    return await paginate(session, stmt, params, keys=[FundCall.created_at, FundCall.id])
