"""Import answer: one result per row, plus totals."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel


class RowError(BaseModel):
    column: str
    field: str
    reason: str


class RowResult(BaseModel):
    row: int
    status: Literal["created", "updated", "unchanged", "error"]
    worker_id: uuid.UUID | None = None
    errors: list[RowError]


class Totals(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    error: int


class ImportResult(BaseModel):
    totals: Totals
    results: list[RowResult]
