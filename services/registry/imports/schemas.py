"""Import answer (one result per row, totals, how the file was read) and the review of doubtful rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class RowError(BaseModel):
    column: str
    field: str
    reason: str


class RowNote(BaseModel):
    column: str
    field: str
    note: str


class RowResult(BaseModel):
    row: int
    line: int = 0
    status: Literal["created", "updated", "unchanged", "needs_review", "error"]
    worker_id: uuid.UUID | None = None
    review_id: uuid.UUID | None = None
    errors: list[RowError]
    notes: list[RowNote] = []


class Totals(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    needs_review: int = 0
    error: int


class SkippedRow(BaseModel):
    row: int
    text: str


class ImportResult(BaseModel):
    totals: Totals
    dry_run: bool = False
    encoding: str | None = None
    sheet: str | None = None
    header_row: int = 1
    skipped_rows: list[SkippedRow] = []
    ignored_columns: list[str] = []
    results: list[RowResult]


class ReviewWorker(BaseModel):
    id: uuid.UUID
    name: str
    birth_date: date
    gender: str
    id_number: str


class ReviewRead(BaseModel):
    id: uuid.UUID
    status: Literal["pending", "merged", "confirmed"]
    reason: str
    row: int
    name: str
    birth_date: date
    id_number: str
    values: dict[str, str]
    worker: ReviewWorker | None
    created_by: str
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    kept: Literal["existing", "incoming"] | None
    result_worker_id: uuid.UUID | None


class ReviewResolved(ReviewRead):
    result: RowResult


class MergeRequest(BaseModel):
    """Which ID number the person keeps: the one on record, or the one of the reviewed row."""

    model_config = ConfigDict(extra="forbid")

    keep: Literal["existing", "incoming"] = "existing"
