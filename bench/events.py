"""Benchmark: outbox -> relay -> broker -> inbox, against raw aiokafka produce/consume in the same run.

Prints throughput (events/s) and end-to-end latency (p50/p99) for both paths and their ratios.
Run: `make bench` or `.venv/bin/python bench/events.py [--events N] [--writers N]`. Starts its own embedded
PostgreSQL (durable: every commit is flushed) and broker; nothing else is needed.

The events are written in business transactions of `--batch` events by `--writers` concurrent writers (default 4):
at month end the stations confirm their reports at once, each confirmation a request of its own, and PostgreSQL
then flushes several commits together. One writer alone waits for each commit's flush before it builds the next
transaction; that measures the commit latency of one client more than the event path (the raw baseline does not
wait for one send before the next either). `--writers 1` gives that figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import TopicPartition  # noqa: E402
from sqlalchemy import text  # noqa: E402

from devstack.embedded import EmbeddedBroker, EmbeddedPostgres, free_port  # noqa: E402
from shared.contracts.events import TOPICS, EventType, ServiceMonth, all_topics, make_event  # noqa: E402
from shared.db import driver_connection, make_engine, make_sessionmaker  # noqa: E402
from shared.events.inbox import Batched, InboxConsumer  # noqa: E402
from shared.events.kafka import ensure_topics, make_consumer, make_producer  # noqa: E402
from shared.events.outbox import OutboxRelay, enqueue_many  # noqa: E402
from shared.migrate import upgrade  # noqa: E402

TOPIC = TOPICS[EventType.SERVICE_MONTH]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def raw_kafka(bootstrap: str, n: int, keys: list[str]) -> dict:
    topic = "bench.raw"
    await ensure_topics(bootstrap, [topic], partitions=4)
    producer = make_producer(bootstrap, client_id="bench-raw")
    consumer = make_consumer(bootstrap, group_id=None, client_id="bench-raw")
    await producer.start()
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(4)])
    payload = b"x" * 450
    received: list[float] = []

    async def consume() -> None:
        while len(received) < n:
            for batch in (await consumer.getmany(timeout_ms=200, max_records=2000)).values():
                now = time.perf_counter()
                received.extend(now - float(r.value[:20]) for r in batch)

    reader = asyncio.create_task(consume())
    started = time.perf_counter()
    futures = [await producer.send(topic, f"{time.perf_counter():<20.6f}".encode() + payload,
                                   key=keys[i % len(keys)].encode()) for i in range(n)]
    await asyncio.gather(*futures)
    produced = time.perf_counter() - started
    await reader
    total = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    lat = [x * 1000 for x in received]
    return {"produce_per_s": n / produced, "e2e_per_s": n / total, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


async def platform(url: str, bootstrap: str, n: int, keys: list[str], batch: int, writers: int) -> dict:
    engine = make_engine(url, pool_size=5)
    sessions = make_sessionmaker(engine)

    async def effects(session, events) -> None:  # the consumer's effect, by the batch as the subsidy's handlers
        await (await driver_connection(session)).execute(
            "INSERT INTO bench_effects (event_id) SELECT unnest($1::uuid[])", [e.id for e in events])

    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_effects (event_id uuid PRIMARY KEY, "
                                "applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"))
    relay = OutboxRelay(engine=engine, bootstrap=bootstrap, service="bench", poll_interval=0.05)
    inbox = InboxConsumer(engine=engine, bootstrap=bootstrap, service="bench", group_id=f"bench-{uuid.uuid4().hex[:6]}",
                          handlers={EventType.SERVICE_MONTH.value: Batched(effects)}, topics=TOPICS)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(inbox.run())]
    await asyncio.wait_for(inbox.assigned.wait(), 60)
    station = uuid.uuid4()
    offsets = iter(range(0, n, batch))

    async def writer() -> None:
        for offset in offsets:  # business transactions of `batch` events each, shared among the writers
            events = [make_event(EventType.SERVICE_MONTH, ServiceMonth(
                worker_id=uuid.UUID(keys[i % len(keys)]), station_id=station, month="2024-01", full_time=True,
                service_hours=160, revision=i + 1), source="bench") for i in range(offset, min(n, offset + batch))]
            async with sessions() as session, session.begin():
                await enqueue_many(session, events, topics=TOPICS)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    written = time.perf_counter() - started
    while True:
        async with engine.connect() as conn:
            done = (await conn.execute(text("SELECT count(*) FROM bench_effects"))).scalar()
        if done >= n:
            break
        await asyncio.sleep(0.05)
    total = time.perf_counter() - started
    async with engine.connect() as conn:
        lat = [float(r[0]) * 1000 for r in await conn.execute(text(
            "SELECT extract(epoch FROM e.applied_at - o.created_at) FROM bench_effects e "
            "JOIN outbox o ON o.event_id = e.event_id"))]
    relay.stop()
    inbox.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await engine.dispose()
    return {"write_per_s": n / written, "e2e_per_s": n / total, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=1000, help="distinct workers (partition keys)")
    parser.add_argument("--batch", type=int, default=100, help="events per business transaction")
    parser.add_argument("--writers", type=int, default=4, help="business transactions written at once")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    keys = [str(uuid.uuid4()) for _ in range(args.keys)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-events-"))
    pg = EmbeddedPostgres(tmp / "pg", free_port())
    broker = EmbeddedBroker(free_port())
    pg.start()
    broker.start()
    try:
        pg.create_databases("bench")
        await asyncio.to_thread(upgrade, "registry", pg.url("bench"))
        await ensure_topics(broker.bootstrap, all_topics())
        ours = await platform(pg.url("bench"), broker.bootstrap, args.events, keys, args.batch, args.writers)
        raw = await raw_kafka(broker.bootstrap, args.events, keys)
    finally:
        broker.stop()
        pg.stop()
    print(f"events: {args.events}, keys: {args.keys}, events per business transaction: {args.batch}, "
          f"writers at once: {args.writers}")
    print(f"{'':34}{'raw aiokafka':>14}{'outbox->inbox':>16}{'ratio':>8}")
    print(f"{'throughput end to end (events/s)':34}{raw['e2e_per_s']:>14.0f}{ours['e2e_per_s']:>16.0f}"
          f"{ours['e2e_per_s'] / raw['e2e_per_s']:>8.2f}")
    print(f"{'produce / outbox write (events/s)':34}{raw['produce_per_s']:>14.0f}{ours['write_per_s']:>16.0f}"
          f"{ours['write_per_s'] / raw['produce_per_s']:>8.2f}")
    print(f"{'latency p50 (ms)':34}{raw['p50_ms']:>14.1f}{ours['p50_ms']:>16.1f}{ours['p50_ms'] / raw['p50_ms']:>8.1f}")
    print(f"{'latency p99 (ms)':34}{raw['p99_ms']:>14.1f}{ours['p99_ms']:>16.1f}{ours['p99_ms'] / raw['p99_ms']:>8.1f}")
    print("(raw: pipelined sends, no database; ours: DB write, relay with per-key ordering and acks=all, "
          "inbox transaction with dedup)")
    if args.json:
        args.json.write_text(json.dumps({"events": args.events, "writers": args.writers, "raw": raw, "ours": ours}))


if __name__ == "__main__":
    asyncio.run(main())
