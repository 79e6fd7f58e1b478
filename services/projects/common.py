"""What the domains share: who may write for a station, months and local dates, the registry dependency."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from pydantic import Field

from shared.auth import Principal, Role
from shared.clock import bureau_today
from shared.errors import NotFound
from shared.registry_client import RegistryClient
from shared.validators import MONTH_PATTERN as SHARED_MONTH_PATTERN

MONTH_PATTERN = SHARED_MONTH_PATTERN
# Who may use the projects service at all (budgets, expenses and service months): not HR systems, which
# exchange registry data only, nor the services, which call the registry only. Anyone else: 403 everywhere.
PROJECTS_ROLES = (Role.BUREAU_ADMIN, Role.AUDITOR, Role.STATION_MANAGER, Role.SOCIAL_WORKER)
Month = Annotated[str, Field(pattern=MONTH_PATTERN, examples=["2024-05"])]


async def get_registry(request: Request) -> RegistryClient:
    return request.app.state.registry


RegistryDep = Annotated[RegistryClient, Depends(get_registry)]


class Clock:
    """Today's date in the bureau's time zone (call windows and "not in the future" are local dates); tests
    pass the app a clock of their own."""

    def today(self) -> date:
        return bureau_today()

    def this_month(self) -> str:
        return self.today().strftime("%Y-%m")


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")


def month_bounds(month: str) -> tuple[date, date]:
    year, mon = int(month[:4]), int(month[5:])
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def ensure_station_writable(principal: Principal, station_id: UUID) -> None:
    """Bureau admins write for any station; a station manager only for their own.

    Another station is answered 404 (not 403): the caller learns nothing about stations outside its scope,
    the same answer its queries give for that station's objects.
    """
    if principal.is_admin:
        return
    if Role.STATION_MANAGER in principal.roles and station_id in principal.station_ids:
        return
    raise NotFound(f"station {station_id} not found", field="station_id")
