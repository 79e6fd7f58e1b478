"""Worker queries. Every read goes through `readable_workers(principal)`: who may see whom is decided in SQL."""

from __future__ import annotations

import functools
import uuid

from sqlalchemy import ColumnElement, Select, Uuid, any_, exists, false, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.certificates.models import Certificate
from services.registry.employments.models import Employment
from services.registry.workers.models import Worker
from shared.auth import Principal, Role
from shared.errors import NotFound

WRITERS = (Role.BUREAU_ADMIN, Role.HR_SYSTEM, Role.STATION_MANAGER)
STATION_IDS = ARRAY(Uuid())
# Bureau staff, the services and HR systems (which exchange the registry in bulk) read every person.
READS_ALL = (Role.BUREAU_ADMIN, Role.AUDITOR, Role.SERVICE, Role.HR_SYSTEM)


def _at_stations(station_ids) -> ColumnElement[bool]:
    """Employed at one of the stations, ever. `= ANY(array)`: one parameter, where `IN` expands one per station
    when the statement runs, which a list page's compiled plan cannot take (shared.db.read_once)."""
    return exists().where(Employment.worker_id == Worker.id,
                          Employment.station_id == any_(literal(list(station_ids), STATION_IDS)))


def readable_workers(principal: Principal) -> ColumnElement[bool]:
    """bureau staff, HR systems and services read all; a station manager their stations' workers; a social
    worker themselves; anyone else nobody. Reads the principal's roles, station ids and worker id and nothing
    else: `_readable` keeps one statement per such scope."""
    if principal.has_any(*READS_ALL):
        return true()
    clauses = []
    if principal.has_any(Role.STATION_MANAGER) and principal.station_ids:
        clauses.append(_at_stations(principal.station_ids))
    if principal.has_any(Role.SOCIAL_WORKER) and principal.worker_id is not None:
        clauses.append(Worker.id == principal.worker_id)
    return or_(*clauses) if clauses else false()


def writable_workers(principal: Principal) -> ColumnElement[bool]:
    """Callers that may change a worker: bureau_admin and HR systems all, station managers their stations'."""
    principal.require(*WRITERS)
    if principal.has_any(Role.BUREAU_ADMIN, Role.HR_SYSTEM):
        return true()
    return _at_stations(principal.station_ids) if principal.station_ids else false()


async def get_readable(session: AsyncSession, principal: Principal, worker_id: uuid.UUID) -> Worker:
    worker = (await session.execute(
        select(Worker).where(Worker.id == worker_id, readable_workers(principal)))).scalar_one_or_none()
    if worker is None:
        raise NotFound(f"worker {worker_id} not found")
    return worker


async def get_writable(session: AsyncSession, principal: Principal, worker_id: uuid.UUID) -> Worker:
    """The worker, locked for the rest of the transaction (serializes employment and certificate rules)."""
    clause = writable_workers(principal)
    worker = (await session.execute(
        select(Worker).where(Worker.id == worker_id, clause).with_for_update())).scalar_one_or_none()
    if worker is None:
        raise NotFound(f"worker {worker_id} not found")
    return worker


# A worker as the API shows it (`service.view_of`): the masked forms, nothing to decrypt; the ciphertexts are read
# only for a bureau_admin who unmasks. Table columns, not the ORM attributes: SQLAlchemy matches a cached
# statement's result columns against ORM-annotated ones at a cost of a quarter of the query's CPU.
_columns = Worker.__table__.c
VIEW = tuple(_columns[name] for name in (
    "id", "name", "gender", "birth_date", "id_number_masked", "phone_masked", "education", "political_status",
    "full_time", "notes", "registered_on", "registration_division_code", "created_at", "updated_at"))
CIPHERTEXTS = (_columns.id_number_enc, _columns.phone_enc)


_SELECT_VIEW, _SELECT_REVEALED = select(*VIEW), select(*VIEW, *CIPHERTEXTS)  # built once
# What a reader of every worker asks without filters (the console's first page), one statement object each: its
# pages are then built once too (shared.pagination._paged), and SQLAlchemy's cache key with them.
_EVERY_WORKER = {False: _SELECT_VIEW.where(true()), True: _SELECT_REVEALED.where(true())}


@functools.lru_cache(maxsize=1024)
def _readable(reveal: bool, roles: frozenset[str], station_ids: frozenset[uuid.UUID],
              worker_id: uuid.UUID | None) -> Select:
    """The unfiltered page statement of a caller's scope, one object per scope (what `readable_workers` reads of a
    principal, and nothing else, is the key): its pages, their cache keys and compiled plans are then made once
    (shared.pagination._paged, shared.db.read_once), as for a reader of every worker; building them took a station
    manager's page 0.3 ms per request. A scope's values are its own: another scope is another object."""
    scope = Principal(subject="", roles=roles, station_ids=station_ids, worker_id=worker_id)
    return (_SELECT_REVEALED if reveal else _SELECT_VIEW).where(readable_workers(scope))


def list_statement(principal: Principal, *, reveal: bool = False, station_id: uuid.UUID | None = None,
                   level: str | None = None, registered: bool | None = None, q: str | None = None):
    """One query for a page: the view's columns of the workers the caller may see, filtered."""
    if station_id is None and level is None and registered is None and not q:
        if principal.has_any(*READS_ALL):
            return _EVERY_WORKER[reveal]
        return _readable(reveal, principal.roles, principal.station_ids, principal.worker_id)
    stmt = (_SELECT_REVEALED if reveal else _SELECT_VIEW).where(readable_workers(principal))
    if station_id is not None:
        stmt = stmt.where(_at_stations([station_id]))
    if level is not None:
        stmt = stmt.where(exists().where(Certificate.worker_id == Worker.id, Certificate.level == level,
                                         Certificate.status == "valid", Certificate.verification == "verified"))
    if registered is not None:
        stmt = stmt.where(Worker.registered_on.is_not(None) if registered else Worker.registered_on.is_(None))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Worker.name.ilike(f"%{escaped}%", escape="\\"))
    return stmt


def station_ids_column():
    """The stations a worker was ever employed at, as an array column of the worker's row (no query per worker)."""
    return func.array(select(Employment.station_id).distinct().where(
        Employment.worker_id == Worker.id, Employment.station_id.is_not(None)).scalar_subquery()).label("station_ids")
