"""The subsidy service as a real process: killed (-9) while it creates a disbursement batch, and a topic
redelivered from offset 0. Nothing is paid twice, nothing is lost, no amount changes.

One world for the module: facts for WORKERS workers arrive as events through a private broker and are
applied by the service's own inbox consumer; every worker then gets an approved application through the
API. A copy of that database (PostgreSQL's template copy, taken before any batch) is the clean run.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg
import httpx
import pytest

from devstack.embedded import EmbeddedBroker, free_port
from services.subsidy.eligibility.rules import month_idx, month_str
from services.subsidy.facts.handlers import HANDLERS
from shared.contracts.events import TOPICS, EventType, all_topics
from shared.db import make_engine
from shared.events.inbox import InboxConsumer
from shared.events.kafka import ensure_topics, make_producer
from tests.reliability.conftest import ServiceProcess, rows, scalar
from tests.subsidy.conftest import POLICY, Events
from tests.support import eventually, fresh_database

WORKERS = 150
KILLS = 8  # SIGKILLs of the service in the middle of creating the batch
MONTH = "2024-12"  # the batch: every payable month up to here (arrears since 2023-12 included)
SEED = 20261125


def worker_facts(rng: random.Random, worker: uuid.UUID) -> list:
    """A varied worker: start month, a break for some, registration date, one to three certificate levels."""
    first = month_idx("2022-01") + rng.randrange(18)
    gap = {month_str(first + rng.randrange(8, 20))} if rng.random() < 0.2 else set()
    events = Events.months(Events, worker, month_str(first), MONTH, skip=gap)
    events += [Events.month(worker, m, full_time=False) for m in gap]
    if rng.random() < 0.95:  # a few never register with the bureau: never payable
        events.append(Events.registration(worker, date(2022, 1, 1) + timedelta(days=rng.randrange(900))))
    obtained = date(2023, 1, 1) + timedelta(days=rng.randrange(500))
    events.append(Events.certificate(worker, "assistant", obtained))
    if rng.random() < 0.4:
        events.append(Events.certificate(worker, "intermediate", obtained + timedelta(days=rng.randrange(60, 400))))
    if rng.random() < 0.1:
        events.append(Events.certificate(worker, "senior", obtained + timedelta(days=rng.randrange(200, 500))))
    rng.shuffle(events)  # facts arrive in any order
    return events


@dataclass
class World:
    broker: EmbeddedBroker
    service: ServiceProcess
    url: str
    clean_url: str
    workers: list[uuid.UUID]
    events: int


async def copy_database(pg, source_url: str) -> str:
    """CREATE DATABASE ... TEMPLATE: the same facts and applications, byte for byte (no one may be connected)."""
    source = source_url.rsplit("/", 1)[1]
    target = f"{source}_clean"
    conn = await asyncpg.connect(pg.dsn("postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    finally:
        await conn.close()
    return pg.url(target)


async def approve_all(base_url: str, mint, workers: list[uuid.UUID]) -> None:
    submitter = mint.headers("bureau_admin", sub="reliability-submitter", ttl=3600)
    reviewer = mint.headers("bureau_admin", sub="reliability-reviewer", ttl=3600)
    limit = asyncio.Semaphore(8)

    async def one(client, worker):
        async with limit:
            r = await client.post("/v1/applications", json={"worker_id": str(worker), "policy": POLICY},
                                  headers=submitter)
            assert r.status_code == 201, r.text
            r = await client.post(f"/v1/applications/{r.json()['id']}/approve", headers=reviewer)
            assert r.status_code == 200, r.text

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(one(client, w) for w in workers))


@pytest.fixture(scope="module")
async def world(pg, mint, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("subsidy-faults")
    broker = EmbeddedBroker(free_port(), log_path=log_dir / "tansu.log")
    broker.start()
    await ensure_topics(broker.bootstrap, all_topics())
    url = await fresh_database(pg, "subsidy")
    service = ServiceProcess("subsidy", database_url=url, bootstrap=broker.bootstrap, jwks_json=mint.jwks_json,
                             log_dir=log_dir)
    try:
        await asyncio.to_thread(service.start)
        rng = random.Random(SEED)
        workers = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(WORKERS)]
        events = [e for w in workers for e in worker_facts(rng, w)]
        producer = make_producer(broker.bootstrap, client_id="reliability-facts")
        await producer.start()
        try:
            for e in events:
                await producer.send(TOPICS[EventType(e.type)], json.dumps(e.model_dump(mode="json")).encode(),
                                    key=e.partitionkey.encode())
            await producer.flush()
        finally:
            await producer.stop()

        async def all_applied():
            return await scalar(url, "SELECT count(*) FROM inbox") == len(events)
        t0 = time.monotonic()
        await eventually(all_applied, timeout=120, interval=0.5)
        print(f"\n{len(events)} fact events applied in {time.monotonic() - t0:.1f}s")
        assert await scalar(url, "SELECT count(*) FROM dead_letters") == 0
        t0 = time.monotonic()
        await approve_all(service.base_url, mint, workers)
        print(f"{WORKERS} applications approved in {time.monotonic() - t0:.1f}s")

        # The clean run's database: a copy taken before any batch exists.
        await asyncio.to_thread(service.stop)
        clean_url = await copy_database(pg, url)
        await asyncio.to_thread(service.start)
        yield World(broker=broker, service=service, url=url, clean_url=clean_url, workers=workers,
                    events=len(events))
    finally:
        service.stop()
        broker.process.kill()  # memory-only: nothing to flush, and a SIGTERM waits for clients
        broker.stop()


IN_TRANSACTION = """SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()
  AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND query NOT ILIKE '%outbox%' AND query NOT ILIKE '%inbox%'"""


async def post_batch(base_url: str, headers: dict) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        return await client.post("/v1/disbursements", json={"policy": POLICY, "month": MONTH}, headers=headers)


async def ledger(url: str) -> list[tuple]:
    return sorted(tuple(r) for r in await rows(
        url, "SELECT worker_id, month, level, amount_fen FROM ledger_lines WHERE policy_code = :p", p=POLICY))


async def batches_are_whole(url: str) -> int:
    """Each batch's lines are all there or the batch is not: a kill never leaves half a batch."""
    found = await rows(url, """
        SELECT d.id, d.line_count, d.total_fen, count(l.id), coalesce(sum(l.amount_fen), 0)
        FROM disbursements d LEFT JOIN ledger_lines l ON l.disbursement_id = d.id
        WHERE d.policy_code = :p GROUP BY d.id""", p=POLICY)
    for _id, line_count, total, counted, summed in found:
        assert (line_count, total) == (counted, summed)
    orphans = await scalar(url, "SELECT count(*) FROM ledger_lines l WHERE l.disbursement_id IS NOT NULL AND "
                                "NOT EXISTS (SELECT 1 FROM disbursements d WHERE d.id = l.disbursement_id)")
    assert orphans == 0
    return len(found)


async def test_kill_9_while_creating_a_batch_pays_each_worker_month_once(world, mint, tmp_path):
    admin = mint.headers("bureau_admin", sub="reliability-admin", ttl=3600)
    # The clean run, on the copy, in a fresh process: its duration sets the window the kills aim at.
    clean = ServiceProcess("subsidy", database_url=world.clean_url, bootstrap=world.broker.bootstrap,
                           jwks_json=mint.jwks_json, log_dir=tmp_path,
                           extra_env={"SUBSIDY_RUN_CONSUMER": "false", "SUBSIDY_RUN_RELAY": "false"})
    await asyncio.to_thread(clean.start)
    try:
        started = time.monotonic()
        response = await post_batch(clean.base_url, admin)
        window = time.monotonic() - started
        assert response.status_code == 201, response.text
        expected = await ledger(world.clean_url)
    finally:
        clean.stop()
    assert len(expected) > WORKERS and response.json()["line_count"] == len(expected)

    rng = random.Random(SEED)
    outcomes = []
    monitor = await asyncio.wait_for(asyncpg.connect(world.url.replace("+asyncpg", "")), 10)
    try:
        for _ in range(KILLS):
            if world.service.process.poll() is not None:
                await asyncio.to_thread(world.service.start)
            request = asyncio.create_task(post_batch(world.service.base_url, admin))
            await asyncio.sleep(rng.uniform(0.05, window * 0.9))
            in_transaction = await monitor.fetchval(IN_TRANSACTION)  # the service's, as it is killed
            world.service.kill()
            try:
                outcomes.append((await request).status_code)
            except httpx.HTTPError:
                outcomes.append("killed in a transaction" if in_transaction else "killed")
            assert await batches_are_whole(world.url) <= 1
    finally:
        await monitor.close()
    await asyncio.to_thread(world.service.start)

    final = await post_batch(world.service.base_url, admin)
    assert final.status_code in (200, 201), final.text
    paid = await ledger(world.url)
    assert len(paid) == len({(w, m) for w, m, _, _ in paid})  # one line per worker-month
    assert paid == expected  # the same lines, levels and amounts as the clean run
    assert final.json()["total_fen"] == sum(amount for *_, amount in expected) == response.json()["total_fen"]
    assert await batches_are_whole(world.url) == 1
    print(f"\n{WORKERS} workers, {len(expected)} lines, clean batch in {window:.2f}s; "
          f"{KILLS} kills, requests ended: {outcomes}; final status {final.status_code}")


async def test_topic_redelivered_from_offset_zero_changes_no_amount(world, mint):
    """A new consumer group on the service's database reads every topic from the start: all duplicates."""
    auditor = mint.headers("auditor", ttl=3600)
    sample = world.workers[:40]

    async def amounts() -> tuple:
        async with httpx.AsyncClient(base_url=world.service.base_url, timeout=30) as client:
            eligibility = []
            for w in sample:
                r = await client.get(f"/v1/workers/{w}/eligibility", params={"policy": POLICY, "through": "2025-06"},
                                     headers=auditor)
                assert r.status_code == 200, r.text
                eligibility.append(r.json())  # every month's verdict, rule and amount
        facts = await rows(world.url, "SELECT md5(string_agg(worker_id::text || month || full_time::text || "
                                      "revision::text, ',' ORDER BY worker_id, month)) FROM service_months")
        return eligibility, await ledger(world.url), facts, await rows(
            world.url, "SELECT count(*), sum(amount_fen) FROM recovery_items")

    if world.service.process.poll() is not None:
        await asyncio.to_thread(world.service.start)
    before = await amounts()
    assert sum(amount for *_, amount in before[1]) > 0  # money is at stake
    assert any(m["net_fen"] > 0 for e in before[0] for m in e["months"])  # the ledger is read
    inbox_before = await scalar(world.url, "SELECT count(*) FROM inbox")

    engine = make_engine(world.url, pool_size=2)
    consumer = InboxConsumer(engine=engine, bootstrap=world.broker.bootstrap, service="subsidy", handlers=HANDLERS,
                             topics=TOPICS,
                             group_id=f"subsidy-redelivery-{uuid.uuid4().hex[:6]}")
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: consumer.duplicates >= world.events, timeout=90, interval=0.5)
    finally:
        consumer.stop()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
    assert (consumer.processed, consumer.duplicates, consumer.dead_lettered) == (0, world.events, 0)
    assert await scalar(world.url, "SELECT count(*) FROM inbox") == inbox_before
    assert await amounts() == before
