"""shared.db against a real PostgreSQL: the pool's one-round-trip liveness check, `driver_connection` inside the
session's transaction, and `read_once`'s statements sent to asyncpg as compiled."""

from __future__ import annotations

import asyncio
from unittest.mock import patch

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    event,
    func,
    literal,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY

from shared.db import driver_connection, make_engine, make_sessionmaker, read_once
from tests.support import fresh_database


async def _backend_pid(sessions) -> int:
    async with sessions() as session, session.begin():
        return (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def _terminate(url: str, pid: int) -> None:
    """The server ends a backend (as a restart or an idle timeout would), from a connection of its own."""
    other = make_engine(url, pool_size=1)
    try:
        async with other.begin() as conn:
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})).scalar_one()
    finally:
        await other.dispose()


async def test_a_connection_the_server_closed_is_replaced_before_the_unit_of_work(pg):
    url = await fresh_database(pg, "registry")
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        first = await _backend_pid(sessions)
        await _terminate(url, first)
        second = await _backend_pid(sessions)  # no error: the check found it dead and the pool reconnected
        assert second != first
        assert await _backend_pid(sessions) == second  # and the new one is kept
    finally:
        await engine.dispose()


async def test_the_liveness_check_is_one_statement_outside_a_transaction(pg):
    """SQLAlchemy's own check for asyncpg is BEGIN, `;`, ROLLBACK; ours is the empty statement alone."""
    url = await fresh_database(pg, "registry")
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).dbapi_connection
            sent: list[str] = []
            raw._connection.add_query_logger(lambda record: sent.append(record.query))
        async with engine.connect() as conn:  # checked out again: pinged
            await conn.execute(text("SELECT 1"))
        assert "BEGIN;" in sent and sent[:sent.index("BEGIN;")] == [";"], sent  # the check, then the statement's own
    finally:
        await engine.dispose()


@pytest.mark.parametrize("commit", [True, False])
async def test_what_runs_on_the_driver_connection_is_the_sessions_transaction(pg, commit):
    """The adapter's own BEGIN opens the transaction (no statement through SQLAlchemy first): a write on the driver
    connection and one through the session commit together or roll back together, and SQLAlchemy sends no second
    BEGIN."""
    url = await fresh_database(pg, "registry")
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n int)"))
        async with sessions() as session:
            await session.begin()
            connection = await session.connection()
            with patch.object(type(connection), "exec_driver_sql", side_effect=AssertionError("the fallback ran")):
                driver = await driver_connection(session)  # the adapter's BEGIN, not the fallback through SQLAlchemy
            assert driver.is_in_transaction()
            sent: list[str] = []
            def log(record) -> None:
                sent.append(record.query)

            driver.add_query_logger(log)
            await driver.execute("INSERT INTO t VALUES (1)")
            await session.execute(text("INSERT INTO t VALUES (2)"))
            assert await driver_connection(session) is driver
            await (session.commit() if commit else session.rollback())
            driver.remove_query_logger(log)
        assert not [q for q in sent if q.strip(" ;").upper() == "BEGIN"], sent
        async with engine.connect() as conn:
            assert sorted(r[0] for r in await conn.execute(text("SELECT n FROM t"))) == ([1, 2] if commit else [])
    finally:
        await engine.dispose()


async def test_a_connection_that_dies_before_begin_fails_as_sqlalchemy_reports_an_outage(pg):
    """If the adapter's BEGIN fails, the error is SQLAlchemy's DBAPIError with the connection invalidated (what the
    web layer answers with a 503 and the inbox retries), not the adapter's own exception type."""
    url = await fresh_database(pg, "registry")
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            connection = await session.connection()  # checked out and pinged
            pid = (await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
            await session.rollback()
            await session.connection()  # checked out and pinged again
            await _terminate(url, pid)  # the server ends it between the check and BEGIN
            await asyncio.sleep(0.2)
            with pytest.raises(sa_exc.DBAPIError) as caught:
                await driver_connection(session)
            assert caught.value.connection_invalidated
    finally:
        await engine.dispose()


async def test_a_begin_cancelled_on_its_way_does_not_go_back_to_the_pool(pg):
    """Cancelled after BEGIN reached the server: the connection is closed, not pooled with a transaction the adapter
    does not know of (the next unit of work would commit nothing)."""
    url = await fresh_database(pg, "registry")
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        first = await _backend_pid(sessions)

        async def begin_then_cancelled(adapted) -> None:
            await adapted._connection.execute("BEGIN")
            raise asyncio.CancelledError

        with patch("sqlalchemy.dialects.postgresql.asyncpg.AsyncAdapt_asyncpg_connection._start_transaction",
                   begin_then_cancelled):
            async with sessions() as session:
                with pytest.raises(asyncio.CancelledError):
                    await driver_connection(session)
        async with sessions() as session:  # a new connection: committing here commits
            second = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await session.execute(text("CREATE TABLE t (n int)"))
            await session.commit()
        assert second != first
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def _read_setup(url: str):
    """A read engine of one connection, a table of three rows, and a logger of what its connection is sent."""
    engine = make_engine(url, pool_size=1, reads_only=True)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE r (n int PRIMARY KEY, name text, kind text, at timestamptz)"))
        await conn.execute(text("INSERT INTO r VALUES (1, 'a1', 'x', now()), (2, 'b2', 'y', now()),"
                                " (3, 'a3', 'y', now())"))
    sent: list[str] = []
    async with engine.connect() as conn:
        (await conn.get_raw_connection()).driver_connection.add_query_logger(lambda rec: sent.append(rec.query))
    through_sqlalchemy: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: through_sqlalchemy.append(statement))
    table = Table("r", MetaData(), Column("n", Integer, primary_key=True), Column("name", String),
                  Column("kind", String), Column("at", DateTime(timezone=True)))
    return engine, table, sent, through_sqlalchemy


async def test_read_once_sends_the_compiled_statement_with_this_statements_own_values(pg):
    """`read_once` compiles a statement's shape once and sends it to asyncpg itself: two statements of one shape with
    different bound values (a literal in the statement, a parameter passed) each get their own rows, an array
    parameter too; an `IN` list, which SQLAlchemy expands at execution, goes through SQLAlchemy."""
    url = await fresh_database(pg, "registry")
    engine, table, sent, through_sqlalchemy = await _read_setup(url)
    try:
        def named(prefix: str):
            return (select(table.c.n, table.c.name).where(table.c.name.like(f"{prefix}%"), table.c.n > bindparam("m"))
                    .order_by(table.c.n))
        assert [tuple(r) for r in await read_once(engine, named("a"), {"m": 0})] == [(1, "a1"), (3, "a3")]
        assert [tuple(r) for r in await read_once(engine, named("b"), {"m": 0})] == [(2, "b2")]
        assert [r["name"] for r in await read_once(engine, named("a"), {"m": 1})] == ["a3"]
        await asyncio.sleep(0.05)  # asyncpg calls its query loggers soon after, not at once
        assert through_sqlalchemy == [] and len([q for q in sent if "FROM r" in q]) == 3, (through_sqlalchemy, sent)
        assert len({q for q in sent if "FROM r" in q}) == 1  # one text for the one shape
        kinds = select(table.c.n).where(table.c.kind == any_(literal(["x", "z"], ARRAY(String)))).order_by(table.c.n)
        assert [r[0] for r in await read_once(engine, kinds)] == [1]  # an array: one parameter, its bind processor
        assert through_sqlalchemy == []
        rows = await read_once(engine, select(table.c.n).where(table.c.kind.in_(["y"])).order_by(table.c.n))
        assert [r[0] for r in rows] == [2, 3] and len(through_sqlalchemy) == 1
    finally:
        await engine.dispose()


async def test_read_once_on_a_connection_the_server_closed_fails_as_sqlalchemy_reports_an_outage(pg):
    """The fast path's error is not the answer: SQLAlchemy's path on the same connection says it (a DBAPIError
    with the connection invalidated: a 503, and the next read has a new connection); a statement the server
    refuses is SQLAlchemy's error too."""
    url = await fresh_database(pg, "registry")
    engine, table, _, _ = await _read_setup(url)
    try:
        pid = (await read_once(engine, select(func.pg_backend_pid())))[0][0]
        await _terminate(url, pid)
        await asyncio.sleep(0.2)
        with pytest.raises(sa_exc.DBAPIError) as caught:
            await read_once(engine, select(table.c.n))
        assert caught.value.connection_invalidated
        assert (await read_once(engine, select(func.pg_backend_pid())))[0][0] != pid
        with pytest.raises(sa_exc.DBAPIError) as caught:
            await read_once(engine, select(table.c.n).where(table.c.name == bindparam("v", type_=Integer)), {"v": 1})
        assert not caught.value.connection_invalidated
        assert len(await read_once(engine, select(table.c.n))) == 3
    finally:
        await engine.dispose()


async def test_a_read_that_times_out_runs_once_and_a_cancelled_read_closes_its_connection(pg):
    """The server's statement timeout is SQLAlchemy's error after one run of the statement (nothing re-runs it);
    a read cancelled while the server works does not go back to the pool (the next read has a new backend)."""
    url = await fresh_database(pg, "registry")
    engine, _, _, _ = await _read_setup(url)
    database = url.rsplit("/", 1)[1]
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{database}" SET statement_timeout = 300'))
        await engine.dispose()  # the setting applies to new connections
        started = asyncio.get_running_loop().time()
        with pytest.raises(sa_exc.DBAPIError) as caught:
            await read_once(engine, select(func.pg_sleep(1)))
        assert "statement timeout" in str(caught.value) and not caught.value.connection_invalidated
        assert asyncio.get_running_loop().time() - started < 0.55  # one run of 0.3 s, not two
        pid = (await read_once(engine, select(func.pg_backend_pid())))[0][0]
        reading = asyncio.ensure_future(read_once(engine, select(func.pg_sleep(0.25))))
        await asyncio.sleep(0.1)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert (await read_once(engine, select(func.pg_backend_pid())))[0][0] != pid
    finally:
        await engine.dispose()
