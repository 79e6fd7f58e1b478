"""Small helpers shared by the registry's domains: date rules and the Chinese labels of levels."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

from shared.clock import bureau_today


class Level(StrEnum):
    """National social-work professional levels (社会工作者职业水平)."""

    assistant = "assistant"  # 助理社会工作师
    intermediate = "intermediate"  # 社会工作师
    senior = "senior"  # 高级社会工作师


LEVEL_LABELS_ZH = {Level.assistant: "助理社会工作师", Level.intermediate: "社会工作师", Level.senior: "高级社会工作师"}
LEVEL_RANK = {Level.assistant: 1, Level.intermediate: 2, Level.senior: 3}


def today() -> date:
    return bureau_today()


def _not_future(value: date) -> date:
    if value > today():
        raise ValueError(f"{value.isoformat()} is in the future")
    return value


NotFutureDate = Annotated[date, AfterValidator(_not_future)]
