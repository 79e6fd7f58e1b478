"""The inbox's batch path gives what one-by-one application gives, table for table, row for row.

Random streams of the four fact events (duplicates, redeliveries, revisions out of order and tied, revocations
before issues, registrations of the same time, hours that round) go to two fresh databases: one by one through
the inbox's per-record path, and cut into random batches through its batch path (one inbox insert, one set-based
handler call per event type). Every table of the two databases must then hold the same rows; the columns left
out are the times of writing (`now()` defaults) and the fact-change sequence numbers, of which only which
workers' moved is compared (the batch path takes one per worker and batch, one by one one per change).
Each example has workers and certificates of its own, so the databases are compared whole after each.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.subsidy.facts.handlers import HANDLERS
from shared.contracts.events import (
    TOPICS,
    CertificateIssued,
    CertificateRevoked,
    EventType,
    ServiceMonth,
    WorkerRegistrationChanged,
    all_topics,
    make_event,
)
from shared.db import make_engine, make_sessionmaker
from shared.events.envelope import CloudEvent
from shared.events.inbox import InboxConsumer
from shared.events.kafka import ensure_topics
from tests.subsidy.conftest import Record
from tests.support import asyncpg_dsn, fresh_database

WORKERS, CERTIFICATES, MONTHS = 2, 2, 6  # few: the same facts meet in one batch
FIRST = date(2023, 1, 1)
AT = datetime(2024, 3, 1, 12, tzinfo=UTC)

specs = st.lists(st.one_of(
    st.tuples(st.just("month"), st.integers(0, WORKERS - 1), st.integers(0, MONTHS - 1),
              st.sampled_from([True, True, True, False]), st.sampled_from([168, 40.5, 2.675, 0.125, 99.995]),
              st.integers(1, 3), st.integers(0, 1)),
    st.tuples(st.just("issue"), st.integers(0, CERTIFICATES - 1),
              st.sampled_from(["assistant", "intermediate", "senior"]), st.integers(0, 500)),
    st.tuples(st.just("revoke"), st.integers(0, CERTIFICATES - 1), st.integers(0, 700), st.sampled_from("ab")),
    st.tuples(st.just("register"), st.integers(0, WORKERS - 1), st.one_of(st.none(), st.integers(0, 600)),
              st.sampled_from(["150624", "150624", "150000", None]), st.integers(0, 2)),
    st.tuples(st.just("again"), st.integers(0, 200)),  # an earlier event delivered again (same id)
), min_size=1, max_size=40)


def stream(steps: list[tuple]) -> list[CloudEvent]:
    workers = [uuid.uuid4() for _ in range(WORKERS)]
    certificates = [(uuid.uuid4(), workers[i % WORKERS]) for i in range(CERTIFICATES)]
    stations = [uuid.uuid4(), uuid.uuid4()]
    events: list[CloudEvent] = []
    for step in steps:
        kind, *a = step
        if kind == "again":
            if events:
                events.append(events[a[0] % len(events)])
            continue
        if kind == "month":
            w, m, full, hours, revision, station = a
            data = ServiceMonth(worker_id=workers[w], station_id=stations[station],
                                month=f"{2023 + m // 12}-{m % 12 + 1:02d}", full_time=full,
                                service_hours=hours if full else 40.0, revision=revision)
            event = make_event(EventType.SERVICE_MONTH, data, source="test-projects")
        elif kind == "issue":
            c, level, day = a
            data = CertificateIssued(certificate_id=certificates[c][0], worker_id=certificates[c][1], level=level,
                                     certificate_no=f"NO-{c}-{day}", obtained_on=FIRST + timedelta(days=day))
            event = make_event(EventType.CERTIFICATE_ISSUED, data, source="test-registry")
        elif kind == "revoke":
            c, day, reason = a
            data = CertificateRevoked(certificate_id=certificates[c][0], worker_id=certificates[c][1],
                                      revoked_on=FIRST + timedelta(days=day), reason=reason)
            event = make_event(EventType.CERTIFICATE_REVOKED, data, source="test-registry")
        else:
            w, day, division, second = a
            data = WorkerRegistrationChanged(
                worker_id=workers[w], registered_on=None if day is None else FIRST + timedelta(days=day),
                division_code=division)
            event = make_event(EventType.WORKER_REGISTRATION_CHANGED, data, source="test-registry")
            event.time = AT + timedelta(seconds=second)  # a few times only: ties happen
        events.append(event)
    return events


@dataclass
class Delivered(Record):
    headers: tuple = ()  # as a Kafka record has: the dead-letter path reads them


def records(events: list[CloudEvent]) -> list[Delivered]:
    return [Delivered(topic=TOPICS[EventType(e.type)], value=json.dumps(e.model_dump(mode="json")).encode(),
                   key=e.partitionkey.encode(), offset=i) for i, e in enumerate(events)]


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url, pool_size=2)
        self.sessions = make_sessionmaker(self.engine)
        self.inbox = InboxConsumer(engine=self.engine, bootstrap="127.0.0.1:1", service="subsidy",
                                   handlers=HANDLERS, topics=TOPICS)

    async def one_by_one(self, batch: list[Delivered]) -> None:
        async with self.sessions() as session, session.begin():
            for record in batch:
                await self.inbox.handle_record(session, record)

    async def as_batch(self, batch: list[Delivered]) -> None:
        async with self.sessions() as session, session.begin():
            assert await self.inbox._apply_batch(session, batch), "the batch path fell back"

    async def tables(self) -> dict[str, list[tuple]]:
        """Every table's rows, without the times of writing; fact_changes without its sequence numbers."""
        conn = await asyncpg.connect(asyncpg_dsn(self.url))
        try:
            skip = {(r["table_name"], r["column_name"]) for r in await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_default LIKE '%now()%'")} | {("fact_changes", "seq")}
            out = {}
            for (table,) in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
                columns = [r[0] for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                    "AND table_name = $1 ORDER BY ordinal_position", table) if (table, r[0]) not in skip]
                quoted = ", ".join(f'"{c}"' for c in columns)
                rows = await conn.fetch(f'SELECT {quoted} FROM "{table}"')
                out[table] = sorted((tuple(r) for r in rows), key=repr)
            return out
        finally:
            await conn.close()

    async def sequences(self) -> dict:
        async with self.engine.connect() as conn:
            return dict((await conn.exec_driver_sql("SELECT worker_id, seq FROM fact_changes")).all())


@pytest.fixture(scope="module")
async def databases(pg):
    both = [Database(await fresh_database(pg, "subsidy")) for _ in range(2)]
    yield both
    for db in both:
        await db.engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=specs, cuts=st.lists(st.integers(1, 25), min_size=1, max_size=6))
async def test_batches_write_what_one_by_one_writes(databases, steps, cuts):
    one, batched = databases
    delivered = records(stream(steps))
    before = [await one.sequences(), await batched.sequences()]
    await one.one_by_one(delivered)
    i = 0
    while i < len(delivered):  # random batch sizes, the last repeated
        size = cuts[min(i, len(cuts) - 1)]
        await batched.as_batch(delivered[i:i + size])
        i += size
    assert await batched.tables() == await one.tables()
    after = [await one.sequences(), await batched.sequences()]
    moved = [{w for w, seq in a.items() if b.get(w) != seq} for b, a in zip(before, after, strict=True)]
    assert moved[0] == moved[1]  # the same workers are to be settled again


async def test_a_poison_event_in_a_batch_is_dead_lettered_alone(pg, broker):
    """The batch fails on the poison event, and that batch only is applied one by one: the rest of it is applied,
    the poison goes to the dead-letter topic and table alone."""
    await ensure_topics(broker.bootstrap, all_topics())
    db = Database(await fresh_database(pg, "subsidy"))
    db.inbox.bootstrap = broker.bootstrap
    good = stream([("month", 0, m, True, 168, 1, 0) for m in range(6)])
    poison = make_event(EventType.SERVICE_MONTH, ServiceMonth(
        worker_id=uuid.uuid4(), station_id=uuid.uuid4(), month="2024-01", full_time=True, service_hours=1,
        revision=1), source="test-projects")
    poison.data["service_hours"] = 10 ** 6  # passes the contract, does not fit the column: fails in the database
    batch = records([*good[:3], poison, *good[3:]])
    try:
        async with db.sessions() as session, session.begin():
            assert not await db.inbox._apply_batch(session, batch)
        await db.inbox._process(batch)
        assert (db.inbox.processed, db.inbox.dead_lettered) == (6, 1)
        async with db.engine.connect() as conn:
            dead = (await conn.exec_driver_sql("SELECT event_id FROM dead_letters")).scalars().all()
            months = (await conn.exec_driver_sql("SELECT count(*) FROM service_months")).scalar()
            runs = (await conn.exec_driver_sql("SELECT first_idx, last_idx FROM service_runs")).all()
        assert dead == [poison.id] and months == 6
        assert runs == [(2023 * 12, 2023 * 12 + 5)]
    finally:
        if db.inbox._producer is not None:
            await db.inbox._producer.stop()
        await db.engine.dispose()
