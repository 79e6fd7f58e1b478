"""The pool's one-round-trip liveness check (shared.db._ping) against a real PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from shared.db import make_engine, make_sessionmaker
from tests.support import fresh_database


async def _backend_pid(sessions) -> int:
    async with sessions() as session, session.begin():
        return (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def test_a_connection_the_server_closed_is_replaced_before_the_unit_of_work(pg):
    url = await fresh_database(pg, "registry")
    engine = make_engine(url, pool_size=1)
    other = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        first = await _backend_pid(sessions)
        async with other.begin() as conn:  # the server ends the pooled connection (a restart, an idle timeout)
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})).scalar_one()
        second = await _backend_pid(sessions)  # no error: the check found it dead and the pool reconnected
        assert second != first
        assert await _backend_pid(sessions) == second  # and the new one is kept
    finally:
        await engine.dispose()
        await other.dispose()


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
        assert sent[0] == ";" and "BEGIN" not in sent and "ROLLBACK" not in sent, sent
    finally:
        await engine.dispose()
