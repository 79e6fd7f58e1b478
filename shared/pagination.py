"""Cursor pagination: lists return {"items": [...], "next_cursor": ...} and take `cursor` and `limit`."""

from __future__ import annotations

import base64
import functools
import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import asyncpg
import pydantic_core
from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Integer, Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.db import read_once
from shared.errors import Invalid

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    cursor: str | None = None
    limit: int = 50


# Dependencies are `async def` (here and in every service): FastAPI runs a plain `def` dependency in a worker
# thread, a thread hop per request that cost a list request more CPU than its query.
CURSOR_HELP = "opaque cursor from a previous page"
MAX_LIMIT = 500


async def page_params(
    cursor: Annotated[str | None, Query(description=CURSOR_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, kinds: list[type]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if len(raw) != len(kinds):
            raise ValueError
        return [datetime.fromisoformat(v) if k is datetime else k(v) for v, k in zip(raw, kinds, strict=True)]
    except Exception:
        raise Invalid("cursor is not one this API issued", field="cursor") from None


@functools.lru_cache(maxsize=256)
def _paged(stmt: Select, keys: tuple, after: bool) -> Select:
    """`stmt` ordered by `keys`, limited, and (`after`) past a cursor, with the values as bound parameters: the
    same statement object for every page of the same `stmt`, so SQLAlchemy's cache key, memoised on the object,
    is computed once. A caller that passes the same `stmt` each time (see the registry's `list_statement`) builds
    nothing per request; one that builds its own pays what it did before (the cache holds the last 256)."""
    if after:
        stmt = stmt.where(tuple_(*keys) > tuple_(*(bindparam(f"page_after_{i}", type_=k.type)
                                                   for i, k in enumerate(keys))))
    return stmt.order_by(*keys).limit(bindparam("page_limit", type_=Integer))


async def paginate(session: AsyncSession | AsyncConnection | AsyncEngine, stmt: Select, params: PageParams, *,
                   keys: list, kinds: list[type] | None = None) -> tuple[list, str | None]:
    """Keyset pagination over `keys` (ascending, unique together, e.g. [created_at, id]).

    Works for `select(Model)` (returns ORM objects) and Core selects (returns rows), on a session or a connection,
    or on the read engine (`shared.db.read_once`: a page that is one statement and writes nothing).
    """
    kinds = kinds or [datetime, UUID][: len(keys)]
    values = {"page_limit": params.limit + 1}
    if params.cursor:
        values.update((f"page_after_{i}", v) for i, v in enumerate(_decode(params.cursor, kinds)))
    paged = _paged(stmt, tuple(keys), bool(params.cursor))
    if isinstance(session, AsyncEngine):
        rows = await read_once(session, paged, values)
    else:
        rows = list((await session.execute(paged, values)).all())
    if rows and len(rows[0]) == 1 and hasattr(rows[0][0], "__mapper__"):
        rows = [row[0] for row in rows]  # select(Model): the ORM objects; otherwise Core rows
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    return rows, _encode([_value(last, k.key) for k in keys])


def _value(row, key: str):
    """A column of an asyncpg record (`read_once`) by name; of an ORM object or a SQLAlchemy row by attribute."""
    return row[key] if isinstance(row, asyncpg.Record) else getattr(row, key)


def page_response(items: list[dict], next_cursor: str | None) -> Response:
    """A page already serialised, for a hot list whose items are plain dicts of JSON-able values (str, int, bool,
    None, date, datetime) built from the query's columns: FastAPI would validate the page against the route's
    `response_model` and serialise it again, a sixth of a list request's CPU. The route keeps `response_model`
    for the OpenAPI; the bytes are those the model gives (pydantic's own encoder, UTF-8, `Z` for UTC), which
    `tests/registry/test_workers.py` checks against the model. UUIDs go in as text: asyncpg's own UUID type
    is not one pydantic's encoder knows by its exact type, and its fallback costs 2 us per value."""
    return Response(pydantic_core.to_json({"items": items, "next_cursor": next_cursor}),
                    media_type="application/json")
