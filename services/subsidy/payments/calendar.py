"""Working days of the bureau, from `working_calendar.json` (data, one entry per year of the State Council's
holiday arrangement): Monday to Friday work, weekends rest, except the listed holidays (rest) and make-up
working days (work). A date in a year the calendar does not hold is refused: a notice is never counted on a
guessed calendar.

The notice (公示) of N working days runs from the first working day after the day it is published (the day of
publication is not counted, as in the Civil Code, art. 201) through the Nth working day; approval is possible
from the day after it ends. With N = 0 there is no notice period: approval is possible on the day of publication.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from shared.errors import Conflict

DATA = Path(__file__).with_name("working_calendar.json")


@dataclass(frozen=True)
class Calendar:
    holidays: dict[date, str]
    workdays: dict[date, str]
    years: frozenset[int]
    provisional: frozenset[int]

    def is_working_day(self, day: date) -> bool:
        if day.year not in self.years:
            raise Conflict(f"the working-day calendar has no year {day.year}; add the State Council's holiday "
                           "arrangement of that year to services/subsidy/payments/working_calendar.json",
                           field="calendar")
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def notice(self, published_on: date, working_days: int) -> tuple[date | None, date]:
        """(the notice's last day, or None without one; the first day approval is possible)."""
        if working_days <= 0:
            return None, published_on
        day, counted = published_on, 0
        while counted < working_days:
            day += timedelta(days=1)
            counted += self.is_working_day(day)
        return day, day + timedelta(days=1)


@cache
def calendar() -> Calendar:
    years = json.loads(DATA.read_text(encoding="utf-8"))["years"]
    holidays = {date.fromisoformat(d): name for y in years.values() for d, name in y["holidays"].items()}
    workdays = {date.fromisoformat(d): name for y in years.values() for d, name in y["workdays"].items()}
    return Calendar(holidays=holidays, workdays=workdays, years=frozenset(int(y) for y in years),
                    provisional=frozenset(int(y) for y, v in years.items() if v["provisional"]))
