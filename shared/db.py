"""Async engine and the one-unit-of-work-per-request session dependency."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from fastapi import Depends, Request
from sqlalchemy import Connection, Dialect, Engine, Executable, MetaData, Select
from sqlalchemy.engine import Compiled
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_, greenlet_spawn

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING)


def make_engine(url: str, *, pool_size: int = 10, reads_only: bool = False) -> AsyncEngine:
    """`reads_only`: for `read_once` (below): every statement is its own transaction and a connection is not
    checked before use (each check is three round trips with asyncpg outside a transaction)."""
    if reads_only:
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
                                   isolation_level="AUTOCOMMIT")
    engine = create_async_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size,
                                 pool_recycle=1800)
    engine.sync_engine.dialect.do_ping = _ping
    return engine


def _ping(dbapi_connection) -> bool:
    """The pool's liveness check of a connection it hands out, in one round trip (an empty statement). SQLAlchemy's
    own check for asyncpg wraps it in BEGIN ... ROLLBACK for PgBouncer's transaction mode, which this platform does
    not use: three round trips before every unit of work. A dead connection still raises here, and the pool
    replaces it (and every connection older than it) before the unit of work starts, as before."""
    try:
        await_(dbapi_connection._connection.fetchrow(";"))
    except Exception as error:
        dbapi_connection._handle_exception(error)
    return True


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def driver_connection(session: AsyncSession):
    """The asyncpg connection under the session, in its transaction: for set-based statements that pass arrays,
    where SQLAlchemy's per-parameter work would cost more than the database's."""
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    driver = pooled.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: without this, what runs on the
        # driver connection first would commit on its own, outside the session's transaction. The adapter's own
        # BEGIN (its isolation level, and it then knows the transaction is open and commits or rolls back that
        # one), without a statement through SQLAlchemy to set it off: a round trip and some 150 us of CPU less
        # per unit of work. `_start_transaction` is the adapter's, not public: tests/shared/test_db.py checks it.
        try:
            await pooled.dbapi_connection._start_transaction()
        except Exception:
            # Failed (the connection died since its check, say): the old way, through SQLAlchemy, so the error is
            # SQLAlchemy's (a DBAPIError that invalidates the connection), which the web layer answers with a 503
            # and the inbox takes for an outage, never for a bad event.
            await connection.exec_driver_sql("SELECT 1")
        except BaseException:
            # Cancelled while BEGIN was on its way: the server may hold a transaction the adapter does not know of,
            # and a connection returned to the pool so would swallow the next user's commits. Closed instead (what
            # SQLAlchemy does with a statement cancelled under it).
            with contextlib.suppress(Exception):
                await connection.invalidate()
            raise
    return driver


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Commits when the endpoint returns, rolls back when it raises; business code never commits.

    Scope "function" makes the commit happen before the response is sent, so a failed commit is
    answered with an error, never with a 200 for something not stored.
    """
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]


async def read_once(engine: AsyncEngine, stmt: Executable, params: dict | None = None) -> list[Sequence]:
    """The rows of ONE statement that writes nothing (a list page), on a pooled connection of `engine`: the read
    engine (`app.state.read_engine`, `reads_only` above) gives a Core connection (no ORM session), no
    transaction and no liveness check before the query, so it costs one round trip instead of six (ping: BEGIN,
    `;`, ROLLBACK; then BEGIN, the query, COMMIT), and each round trip costs the service more CPU than the query's
    rows. A connection that died with a database restart fails that one request (503, retryable) and the pool is
    replaced. A request that may write (e.g. a look at unmasked data, recorded) uses SessionDep.

    Checkout, statement, rows and checkin run in one hop into SQLAlchemy's synchronous core (`greenlet_spawn`,
    what every call of its asyncio layer does): `async with engine.connect()` and `execute` take three hops, about
    70 us of a 1 ms list request. Not a dependency either: one that yields costs FastAPI an exit stack and a
    shielded context manager per request.

    The statement itself goes to asyncpg as SQLAlchemy compiled it (`_ReadPlan`), once per shape of statement:
    SQLAlchemy's execution (context, cursor adapter, result, rows) cost 60 to 90 us of CPU per page, a tenth of
    the request. The rows are then asyncpg's records (by position, and by column name: `row["id"]`). A statement
    the plan cannot take as it is (see `_ReadPlan`) takes SQLAlchemy's own path. An error on the fast path is
    made what SQLAlchemy would have made of it, without running the statement again (`_as_sqlalchemy_error`): a
    DBAPIError, with the connection invalidated when it is gone (answered with a 503), and a cancelled read
    closes its connection instead of returning it to the pool, as SQLAlchemy's path does."""
    sync_engine = engine.sync_engine
    plan, args = _ReadPlan.args(sync_engine, stmt, params or {})

    def read() -> list[Sequence]:
        with sync_engine.connect() as connection:
            if plan is None:
                return connection.execute(stmt, params).all()
            try:
                return await_(connection.connection.driver_connection.fetch(plan.sql, *args))
            except Exception as error:
                raise _as_sqlalchemy_error(connection, error, plan.sql, args) from error
            except BaseException:
                connection.invalidate()  # cancelled while the server may still be answering
                raise

    return await greenlet_spawn(read)


def _as_sqlalchemy_error(connection: Connection, error: Exception, statement: str, args: list) -> Exception:
    """The error SQLAlchemy raises for a driver's error on `connection` (what its own execution does): the
    adapter's DBAPI exception wrapped in a `DBAPIError`, and the connection invalidated (closed, the pool
    replaced) when the dialect takes the error for a lost connection. The adapter's translation is
    `_handle_exception`, not public, as in `_ping`: tests/shared/test_db.py checks both outcomes."""
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    try:
        dbapi_connection._handle_exception(error)
    except Exception as translated:
        error = translated
    disconnect = isinstance(error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
        error, dbapi_connection, None)
    if disconnect:
        connection.invalidate(error)
    return DBAPIError.instance(statement, args, error, dialect.loaded_dbapi.Error, connection_invalidated=disconnect,
                               dialect=dialect)


@dataclass(frozen=True)
class _ReadPlan:
    """A select as SQLAlchemy compiles it for asyncpg, keyed by its cache key (the statement's shape, its bound
    values aside) like SQLAlchemy's own compiled cache, with the bind processors SQLAlchemy would apply to the
    values (an array's, say); `None` for a statement that needs SQLAlchemy at execution: parameters expanded then
    (`IN` lists: `= ANY(array)` compiles to one parameter), or a column whose values are converted on the way
    out."""

    sql: str
    compiled: Compiled
    binds: tuple[tuple[str, Callable | None], ...]  # per positional parameter: its name, its bind processor

    PLANS: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()  # engine -> {shape: plan or None}
    MAX_PER_ENGINE: ClassVar[int] = 256

    @classmethod
    def args(cls, engine: Engine, stmt: Executable, params: dict) -> tuple[_ReadPlan | None, list]:
        key = stmt._generate_cache_key()  # memoised on the statement object (see shared.pagination._paged)
        if key is None:
            return None, []
        plans = cls.PLANS.setdefault(engine, {})
        plan = plans.get(key.key, _UNSEEN)
        if plan is _UNSEEN:
            plan = cls.of(engine.dialect, stmt, key)
            if len(plans) >= cls.MAX_PER_ENGINE:
                plans.pop(next(iter(plans)))
            plans[key.key] = plan
        if plan is None:
            return None, []
        values = plan.compiled.construct_params(params, extracted_parameters=key.bindparams)
        return plan, [values[name] if convert is None else convert(values[name]) for name, convert in plan.binds]

    @classmethod
    def of(cls, dialect: Dialect, stmt: Executable, key) -> _ReadPlan | None:
        compiled = stmt.compile(dialect=dialect, cache_key=key)
        if not isinstance(stmt, Select) or not compiled.positional or compiled.post_compile_params \
                or compiled.literal_execute_params:
            return None
        if any(c.type.dialect_impl(dialect).result_processor(dialect, None) is not None
               for c in stmt.selected_columns):
            return None
        binds = tuple((name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                      for name in compiled.positiontup)
        return cls(sql=str(compiled), compiled=compiled, binds=binds)


_UNSEEN = object()
