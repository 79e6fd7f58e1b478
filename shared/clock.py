"""The bureau's clock: "today", "this month" and "not in the future" are dates in the bureau's time zone.

Ordos keeps Asia/Shanghai time (UTC+8 all year). A server running in UTC would otherwise still call
2026-12-01 07:00 local time November: a month's batch refused, a report or an activity dated today called
"in the future". Every service takes its dates from here; tests move the clock through their own hooks.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BUREAU_TZ = ZoneInfo("Asia/Shanghai")


def bureau_today(now: datetime | None = None) -> date:
    """The bureau's date now (or at `now`, an aware datetime)."""
    return (now or datetime.now(BUREAU_TZ)).astimezone(BUREAU_TZ).date()
