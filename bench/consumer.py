"""Benchmark: the subsidy inbox consumer's events/s against a raw aiokafka consume of the same topic.

Standalone: starts its own embedded PostgreSQL and Kafka-protocol broker, produces N service-month events,
reads them once with a bare aiokafka consumer (no database) and once with the subsidy service's InboxConsumer
(what one poll returns in one transaction: inbox rows, fact upserts, run rebuilds and change marks by the batch).
Prints figures and the ratio, and the CPU each phase took in this process, PostgreSQL and the broker per event
(on a shared machine the CPU compares better than the rate); never asserts timings.
Usage: .venv/bin/python bench/consumer.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.embedded import EmbeddedBroker, EmbeddedPostgres, free_port  # noqa: E402
from services.subsidy.eligibility.rules import month_str  # noqa: E402
from services.subsidy.facts.handlers import HANDLERS  # noqa: E402
from shared.contracts.events import TOPICS, EventType, ServiceMonth, all_topics, make_event  # noqa: E402
from shared.db import make_engine  # noqa: E402
from shared.events.inbox import InboxConsumer  # noqa: E402
from shared.events.kafka import ensure_topics, make_producer  # noqa: E402
from shared.migrate import upgrade  # noqa: E402

TOPIC = TOPICS[EventType.SERVICE_MONTH]


async def produce(bootstrap: str, n: int) -> None:
    producer = make_producer(bootstrap, client_id="bench")
    await producer.start()
    try:
        workers = [uuid.uuid4() for _ in range(max(1, n // 12))]
        station = uuid.uuid4()
        pending = []
        for i in range(n):
            worker = workers[i % len(workers)]
            event = make_event(EventType.SERVICE_MONTH, ServiceMonth(
                worker_id=worker, station_id=station, month=month_str(2023 * 12 + i // len(workers)), full_time=True,
                service_hours=168, revision=1), source="bench")
            pending.append(await producer.send(TOPIC, json.dumps(event.model_dump(mode="json")).encode(),
                                               key=str(worker).encode()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, n: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(TOPIC) or await consumer._client.fetch_all_metadata() and \
            consumer.partitions_for_topic(TOPIC)
        consumer.assign([TopicPartition(TOPIC, p) for p in partitions])
        await consumer.seek_to_beginning()
        seen = 0
        start = time.perf_counter()
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=500, max_records=500)).values():
                for record in records:
                    json.loads(record.value)  # the inbox parses every event too
                seen += len(records)
        return time.perf_counter() - start
    finally:
        await consumer.stop()


async def inbox_consume(engine, bootstrap: str, n: int, cpu: Cpu) -> tuple[float, int]:
    inbox = InboxConsumer(engine=engine, bootstrap=bootstrap, service="subsidy", handlers=HANDLERS, topics=TOPICS,
                          group_id=f"bench-{uuid.uuid4().hex[:6]}")
    task = asyncio.create_task(inbox.run())
    try:
        await asyncio.wait_for(inbox.assigned.wait(), 120)  # the group join is slow on this broker: not timed
        cpu.lap()
        start = time.perf_counter()
        base = inbox.processed
        while inbox.processed + inbox.duplicates < n:
            await asyncio.sleep(0.05)
            if task.done():
                task.result()
        return time.perf_counter() - start, inbox.processed - base
    finally:
        inbox.stop()
        await asyncio.wait_for(task, 30)


class Cpu:
    """CPU seconds (user + system) used since the last `lap` by this process, PostgreSQL (the postmaster and every
    process it started, those that ended too) and the broker: robust to the rest of the machine's load."""

    def __init__(self, postmaster: int, broker: int):
        self.processes = {"python": psutil.Process(), "postgres": psutil.Process(postmaster),
                          "broker": psutil.Process(broker)}
        self.last = self.read()

    def read(self) -> dict[str, float]:
        out = {}
        for name, process in self.processes.items():
            t = process.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            if name == "postgres":
                for child in process.children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        total += sum(child.cpu_times()[:2])
            out[name] = total
        return out

    def lap(self) -> dict[str, float]:
        now = self.read()
        used, self.last = {k: now[k] - self.last[k] for k in now}, now
        return used


def per_event(used: dict[str, float], n: int) -> str:
    return ", ".join(f"{k} {v / n * 1e6:.0f}" for k, v in used.items()) + " us of CPU per event"


async def main(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-consumer-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "data", free_port(), fast=True)
        broker = EmbeddedBroker(free_port(), log_path=Path(tmp) / "tansu.log")
        pg.start()
        broker.start()
        try:
            pg.create_databases("subsidy_bench")
            url = pg.url("subsidy_bench")
            await asyncio.to_thread(upgrade, "subsidy", url)
            await ensure_topics(broker.bootstrap, all_topics())
            t = time.perf_counter()
            await produce(broker.bootstrap, n)
            print(f"produced {n:,} service-month events ({time.perf_counter() - t:.1f} s)")
            cpu = Cpu(int((pg.datadir / "postmaster.pid").read_text().split()[0]), broker.process.pid)
            raw_s = await raw_consume(broker.bootstrap, n)
            raw_cpu = cpu.lap()
            print(f"raw aiokafka consume + JSON parse: {n / raw_s:,.0f} events/s ({raw_s:.2f} s; "
                  f"{per_event(raw_cpu, n)})")
            engine = make_engine(url)
            inbox_s, processed = await inbox_consume(engine, broker.bootstrap, n, cpu)
            inbox_cpu = cpu.lap()
            await engine.dispose()
            print(f"subsidy inbox consumer: {n / inbox_s:,.0f} events/s ({inbox_s:.2f} s after the group join, "
                  f"{processed:,} applied; {per_event(inbox_cpu, n)})")
            print(f"inbox / raw: {raw_s / inbox_s:.2f} (the inbox applies each poll's events in one transaction, "
                  "a few statements per batch)")
            print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")
        finally:
            broker.stop()
            pg.stop(mode="immediate")
    return {"events": n, "raw_per_s": n / raw_s, "inbox_per_s": n / inbox_s, "load_average": os.getloadavg(),
            "raw_cpu_us": {k: v / n * 1e6 for k, v in raw_cpu.items()},
            "inbox_cpu_us": {k: v / n * 1e6 for k, v in inbox_cpu.items()}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = asyncio.run(main(args.events))
    if args.json:
        args.json.write_text(json.dumps(figures))
