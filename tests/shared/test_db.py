"""shared.db against a real PostgreSQL: the pool's one-round-trip liveness check, and `driver_connection` inside
the session's transaction."""

from __future__ import annotations

import asyncio
from unittest.mock import patch

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from shared.db import driver_connection, make_engine, make_sessionmaker
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
