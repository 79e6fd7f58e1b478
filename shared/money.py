"""Money is integer fen (1 yuan = 100 fen) everywhere; these helpers convert at the edges only."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field

# 10 billion yuan: above any real amount, far enough below bigint that sums of amounts cannot overflow.
MAX_FEN = 10**12
INT4_MAX = 2**31 - 1

Fen = Annotated[int, Field(ge=0, le=MAX_FEN, description="amount in fen (1 yuan = 100 fen)", examples=[30000])]
# A monthly subsidy rate: stored in a PostgreSQL integer.
RateFen = Annotated[int, Field(ge=0, le=INT4_MAX, description="monthly rate in fen", examples=[30000])]


def yuan_to_fen(yuan: int | str | Decimal) -> int:
    """Exact conversion of a yuan amount (e.g. "782.5") to fen; more than two decimals is an error."""
    value = Decimal(str(yuan))
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{yuan} yuan has more than two decimals")
    return int(fen)


def fen_to_yuan_str(fen: int) -> str:
    """1234567 -> '12345.67' (for exports meant for people)."""
    return str((Decimal(fen) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
