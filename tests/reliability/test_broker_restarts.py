"""The memory-only broker restarted again and again while events flow: nothing lost, nothing applied twice.

The producer is the projects service's outbox (events written with `enqueue_many` in business transactions,
published by the projects service's own relay, as a real process); the consumer is the subsidy service's own
inbox, as a real process. The broker forgets everything when it restarts, including messages it acknowledged
and nobody consumed yet: the operator's answer is `replay_outbox` since the first restart, and the inbox
drops what it already applied.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy import text

from services.subsidy.eligibility.rules import month_idx, month_str
from shared.contracts.events import TOPICS, EventType, ServiceMonth, make_event
from shared.db import make_engine, make_sessionmaker
from shared.events.outbox import enqueue_many, replay_outbox
from tests.reliability.conftest import restart_broker, scalar
from tests.support import eventually, fresh_database

EVENTS = 6_000  # service months, one event each (spread over every restart)
MONTHS = 40  # per worker: 2022-01 .. 2025-04
WORKERS = EVENTS // MONTHS
RESTARTS = 5  # broker restarts while the events are written, published and consumed
RESTART_EVERY = 3.0  # seconds between restarts
PER_TRANSACTION = 100
STATION = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


def service_months(worker: uuid.UUID) -> list:
    first = month_idx("2022-01")
    return [make_event(EventType.SERVICE_MONTH, ServiceMonth(
        worker_id=worker, station_id=STATION, month=month_str(first + i), full_time=True, service_hours=168.0,
        revision=1), source="projects") for i in range(MONTHS)]


async def test_broker_restarts_lose_nothing_after_replay_and_double_nothing(pg, private_broker, service_process):
    projects_url = await fresh_database(pg, "projects")
    subsidy_url = await fresh_database(pg, "subsidy")
    subsidy = service_process("subsidy", database_url=subsidy_url, bootstrap=private_broker.bootstrap,
                              SUBSIDY_RUN_RELAY="false")
    projects = service_process("projects", database_url=projects_url, bootstrap=private_broker.bootstrap,
                               PROJECTS_RUN_CONSUMER="false")
    await asyncio.gather(asyncio.to_thread(subsidy.start), asyncio.to_thread(projects.start))

    workers = [uuid.uuid4() for _ in range(WORKERS)]
    events = [e for w in workers for e in service_months(w)]
    assert len(events) == EVENTS
    chunks = [events[i:i + PER_TRANSACTION] for i in range(0, EVENTS, PER_TRANSACTION)]
    warmup, during, sentinel = chunks[0], chunks[1:-1], chunks[-1]
    engine = make_engine(projects_url, pool_size=2)
    sessions = make_sessionmaker(engine)

    async def write(chunk) -> None:
        async with sessions() as session, session.begin():  # a business transaction of its own
            await enqueue_many(session, chunk, topics=TOPICS)

    async def write_during(spread_over: float) -> None:
        for chunk in during:
            await write(chunk)
            await asyncio.sleep(spread_over / len(during))

    async def applied(chunk) -> bool:
        return await scalar(subsidy_url, "SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)",
                            ids=[e.id for e in chunk]) == len(chunk)

    async def all_published() -> bool:
        return await scalar(projects_url, "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL")

    try:
        await write(warmup)  # the consumer is live before the first restart
        await eventually(lambda: applied(warmup), timeout=60, interval=0.3)
        async with engine.connect() as conn:
            first_restart = (await conn.execute(text("SELECT now()"))).scalar()
        started = time.monotonic()
        writer = asyncio.create_task(write_during(spread_over=RESTARTS * RESTART_EVERY))
        for _ in range(RESTARTS):
            await asyncio.sleep(RESTART_EVERY)
            await restart_broker(private_broker)
        await writer
        restarts_seconds = time.monotonic() - started

        # Every row reaches the broker in the end: the relay waits out each outage.
        await eventually(all_published, timeout=60, interval=0.3)
        # The consumer is back (it rejoins the group the broker forgot) once an event written after the
        # last restart is applied; what it still lacks then was lost by the broker.
        await write(sentinel)
        await eventually(lambda: applied(sentinel), timeout=60, interval=0.3)
        await asyncio.sleep(2.0)
        applied_before = await scalar(subsidy_url, "SELECT count(*) FROM inbox")

        # The operator replays since the first restart; the inbox drops what it already applied.
        async with sessions() as session, session.begin():
            replayed = await replay_outbox(session, since=first_restart)
        assert replayed == EVENTS - len(warmup)

        async def complete():
            return await scalar(subsidy_url, "SELECT count(*) FROM inbox") == EVENTS
        await eventually(complete, timeout=90, interval=0.3)
        await eventually(all_published, timeout=30, interval=0.3)
        # The replayed duplicates are drained (the lag gauge covers every assigned partition).
        await eventually(lambda: subsidy_lag_zero(subsidy), timeout=30, interval=0.5)

        # Exactly the outbox's events were applied, each once.
        outbox_ids = set(await ids(projects_url, "SELECT event_id FROM outbox"))
        inbox_ids = await ids(subsidy_url, "SELECT event_id FROM inbox")
        assert len(outbox_ids) == EVENTS and len(inbox_ids) == EVENTS and set(inbox_ids) == outbox_ids
        assert await subsidy.metric("consumer_processed_events") == EVENTS  # each handler ran once per event
        assert await scalar(subsidy_url, "SELECT count(*) FROM dead_letters") == 0
        assert await scalar(subsidy_url, "SELECT count(*) FROM service_months") == EVENTS
        runs = await scalar(subsidy_url, "SELECT count(*) FROM service_runs WHERE first_idx = :f AND last_idx = :l",
                            f=month_idx("2022-01"), l=month_idx("2022-01") + MONTHS - 1)
        assert runs == WORKERS and await scalar(subsidy_url, "SELECT count(*) FROM service_runs") == WORKERS
        print(f"\n{EVENTS} events, {RESTARTS} broker restarts in {restarts_seconds:.1f}s; applied before the "
              f"replay: {applied_before}; lost by the broker, recovered by the replay: {EVENTS - applied_before}")
    finally:
        await engine.dispose()


async def subsidy_lag_zero(subsidy) -> bool:
    return await subsidy.metric("consumer_lag_messages") == 0


async def ids(url: str, sql: str) -> list:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).scalars())
    finally:
        await engine.dispose()

