"""The event backbone against the real embedded PostgreSQL and broker: outbox, relay, inbox, DLQ, replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from cloudevents.core.bindings import kafka
from cloudevents.core.formats.json import JSONFormat
from sqlalchemy import text

from devstack.embedded import EmbeddedBroker, free_port
from shared.contracts.events import EVENT_DATA, TOPICS, EventType, ServiceMonth, all_topics, make_event
from shared.db import make_engine, make_sessionmaker
from shared.events.envelope import STRUCTURED_CONTENT_TYPE, dlq_topic
from shared.events.inbox import InboxConsumer
from shared.events.kafka import ensure_topics, make_producer
from shared.events.outbox import BrokerUnavailable, OutboxRelay, enqueue, outbox_status, replay_outbox
from tests.support import eventually, fresh_database

TOPIC = TOPICS[EventType.SERVICE_MONTH]


def service_month(worker_id: uuid.UUID, seq: int):
    data = ServiceMonth(worker_id=worker_id, station_id=uuid.uuid4(), month="2024-01", full_time=True,
                        service_hours=float(seq), revision=seq)
    return make_event(EventType.SERVICE_MONTH, data, source="test")


async def record_effect(session, event) -> None:
    if event.data.get("service_hours") == 666:
        raise ValueError("poison: this handler cannot take 666 hours")
    await session.execute(text("INSERT INTO effects (event_id, worker_id, seq) VALUES (:e, :w, :s)"),
                          {"e": event.id, "w": event.data["worker_id"], "s": event.data["revision"]})


@pytest.fixture(scope="module")
async def db(pg):
    url = await fresh_database(pg, "registry")
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (id bigserial PRIMARY KEY, event_id uuid NOT NULL, "
                                "worker_id uuid NOT NULL, seq int NOT NULL)"))
    yield engine
    await engine.dispose()


async def write_events(engine, events) -> None:
    async with make_sessionmaker(engine)() as session, session.begin():
        await enqueue(session, *events, topics=TOPICS)


async def read_topic(bootstrap: str, topic: str, *, want: int, timeout: float = 20.0, keys=None) -> list:
    """Read a topic from the beginning by explicit assignment (no group join), until `want` records (of `keys`,
    worker ids, if given: the topic is shared by the session's tests)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or await consumer._client.fetch_all_metadata() and \
            consumer.partitions_for_topic(topic)
        if not partitions:  # the broker does not know the topic (an empty one restarted): nothing to read
            return []
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        mine = None if keys is None else {str(k).encode() for k in keys}
        while len(records) < want and loop.time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(r for r in batch if mine is None or r.key in mine)
        return records
    finally:
        await consumer.stop()


async def effects(engine, worker_ids) -> list:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT worker_id, seq, event_id FROM effects WHERE worker_id = ANY(:w) "
                                       "ORDER BY id"), {"w": list(worker_ids)})
        return rows.all()


async def test_rolled_back_transaction_emits_nothing(db, broker):
    relay = OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test")
    await relay.drain()
    worker = uuid.uuid4()
    async with make_sessionmaker(db)() as session:
        async with session.begin():
            await enqueue(session, service_month(worker, 1), topics=TOPICS)
            await session.rollback()
    async with make_sessionmaker(db)() as session:
        assert (await outbox_status(session)).pending == 0
    assert await relay.drain() == 0
    records = await read_topic(broker.bootstrap, TOPIC, want=10_000, timeout=2)
    assert not [r for r in records if r.key == str(worker).encode()]


async def test_events_for_one_key_arrive_in_order(db, broker):
    relay = OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test", batch_size=37)
    workers = [uuid.uuid4() for _ in range(5)]
    for seq in range(1, 41):  # interleaved keys, one transaction per step
        await write_events(db, [service_month(w, seq) for w in workers])
    assert await relay.drain() == 200
    records = await read_topic(broker.bootstrap, TOPIC, want=200, keys=workers)
    for worker in workers:
        seqs = [json.loads(r.value)["data"]["revision"] for r in records if r.key == str(worker).encode()]
        assert seqs == list(range(1, 41))
    ours = [r for r in records if r.key in {str(w).encode() for w in workers}]  # other tests share the topic
    first = json.loads(ours[0].value)
    assert first["specversion"] == "1.0" and first["type"] == EventType.SERVICE_MONTH.value
    # Structured content mode of the Kafka binding: the content-type header says so, and no ce_* header
    # (readers take ce_* headers for binary mode).
    assert {tuple(r.headers) for r in ours} == {(("content-type", b"application/cloudevents+json; charset=utf-8"),)}


@pytest.fixture(scope="module")
async def consumer(db, broker):
    inbox = InboxConsumer(engine=db, bootstrap=broker.bootstrap, service="test",
                          group_id=f"test-{uuid.uuid4().hex[:6]}",
                          handlers={EventType.SERVICE_MONTH.value: record_effect}, topics=TOPICS)
    task = asyncio.create_task(inbox.run())
    await asyncio.wait_for(inbox.assigned.wait(), 60)
    yield inbox
    inbox.stop()
    await asyncio.wait_for(task, 30)


async def test_duplicate_delivery_has_one_effect(db, broker, consumer):
    worker = uuid.uuid4()
    event = service_month(worker, 1)
    producer = make_producer(broker.bootstrap, client_id="dup")
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(TOPIC, json.dumps(event.model_dump(mode="json")).encode(),
                                         key=str(worker).encode())
        follower = service_month(worker, 2)
        await producer.send_and_wait(TOPIC, json.dumps(follower.model_dump(mode="json")).encode(),
                                     key=str(worker).encode())
    finally:
        await producer.stop()
    rows = await eventually(lambda: _at_least(effects(db, [worker]), 2))
    assert [r.seq for r in rows] == [1, 2]
    assert consumer.duplicates >= 2


async def _at_least(rows_coro, n):
    rows = await rows_coro
    return rows if len(rows) >= n else None


async def test_poison_message_goes_to_dlq_and_consumer_keeps_going(db, broker, consumer):
    worker = uuid.uuid4()
    poison = make_event(EventType.SERVICE_MONTH, ServiceMonth(
        worker_id=worker, station_id=uuid.uuid4(), month="2024-02", full_time=True, service_hours=666,
        revision=1), source="test")
    await write_events(db, [poison, service_month(worker, 2)])
    await write_events(db, [])
    relay = OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test")
    await relay.drain()
    producer = make_producer(broker.bootstrap, client_id="garbage")
    await producer.start()
    await producer.send_and_wait(TOPIC, b"{not json", key=str(worker).encode())
    await producer.stop()
    await write_events(db, [service_month(worker, 3)])
    await relay.drain()
    rows = await eventually(lambda: _at_least(effects(db, [worker]), 2))
    assert [r.seq for r in rows] == [2, 3]  # the poison had no effect; later events did
    dead = await read_topic(broker.bootstrap, dlq_topic(TOPIC), want=2, timeout=20)
    mine = [r for r in dead if r.key == str(worker).encode()]
    assert len(mine) == 2
    headers = dict(mine[0].headers)
    assert b"poison" in headers["dlq_error"] and headers["dlq_original_topic"] == TOPIC.encode()
    # A dead letter keeps its content mode: the relayed event's content-type, none for the garbage.
    assert headers["content-type"] == STRUCTURED_CONTENT_TYPE.encode()
    assert "content-type" not in dict(mine[1].headers)
    async with db.connect() as conn:
        recorded = (await conn.execute(text("SELECT count(*) FROM dead_letters WHERE payload LIKE :p OR "
                                            "event_id = :e"), {"p": "{not json%", "e": poison.id})).scalar()
    assert recorded == 2


async def test_replay_republishes_and_changes_no_effect(db, broker, consumer):
    worker = uuid.uuid4()
    start = datetime.now(UTC) - timedelta(seconds=1)
    await write_events(db, [service_month(worker, i) for i in (1, 2, 3)])
    relay = OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test")
    await relay.drain()
    await eventually(lambda: _at_least(effects(db, [worker]), 3))
    before = consumer.duplicates  # read before the replay: the consumer may count them before drain() returns
    async with make_sessionmaker(db)() as session, session.begin():
        replayed = await replay_outbox(session, since=start)
    assert replayed >= 3
    assert await relay.drain() >= 3
    await eventually(lambda: consumer.duplicates >= before + 3)
    assert [r.seq for r in await effects(db, [worker])] == [1, 2, 3]


async def test_broker_outage_loses_nothing_and_doubles_nothing(pg, tmp_path):
    """Writes succeed while the broker is down; after it is back every event has exactly one effect."""
    url = await fresh_database(pg, "registry")
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (id bigserial PRIMARY KEY, event_id uuid NOT NULL, "
                                "worker_id uuid NOT NULL, seq int NOT NULL)"))
    broker = EmbeddedBroker(free_port())
    broker.start()
    await ensure_topics(broker.bootstrap, all_topics())
    relay = OutboxRelay(engine=engine, bootstrap=broker.bootstrap, service="test", poll_interval=0.2,
                        base_backoff=0.1)
    inbox = InboxConsumer(engine=engine, bootstrap=broker.bootstrap, service="test", group_id="outage",
                          handlers={EventType.SERVICE_MONTH.value: record_effect}, topics=TOPICS)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(inbox.run())]
    workers = [uuid.uuid4() for _ in range(10)]
    try:
        await write_events(engine, [service_month(w, 1) for w in workers])
        await eventually(lambda: _at_least(effects(engine, workers), 10))

        broker.stop()
        for seq in (2, 3, 4):  # business writes go on while the broker is down
            await write_events(engine, [service_month(w, seq) for w in workers])
        await asyncio.sleep(1.0)
        async with make_sessionmaker(engine)() as session:
            assert (await outbox_status(session)).pending == 30

        broker.start()
        await ensure_topics(broker.bootstrap, all_topics())
        rows = await eventually(lambda: _at_least(effects(engine, workers), 40), timeout=120)
        await asyncio.sleep(2.0)  # let any redelivery land before counting
        rows = await effects(engine, workers)
        assert len(rows) == 40 and len({r.event_id for r in rows}) == 40
        # Every event once. Not asserted: the order per worker after the restart. The embedded broker keeps its
        # log in memory, so a restart empties it while the consumer's position still points into the old one; a
        # worker's later events can then be read before earlier ones (seen: 1, 3, 4, 2). The subsidy's handlers
        # keep the highest revision, so facts end right in any order; a broker that keeps its log (any real Kafka)
        # keeps the order, which the tests above check.
        for w in workers:
            assert sorted(r.seq for r in rows if r.worker_id == w) == [1, 2, 3, 4]
        async with make_sessionmaker(engine)() as session:
            assert (await outbox_status(session)).pending == 0
    finally:
        relay.stop()
        inbox.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        broker.stop()
        await engine.dispose()


async def test_relay_reports_broker_unavailable(db):
    relay = OutboxRelay(engine=db, bootstrap=f"127.0.0.1:{free_port()}", service="test")
    await write_events(db, [service_month(uuid.uuid4(), 1)])
    with pytest.raises(BrokerUnavailable):
        await relay.publish_once()
    async with make_sessionmaker(db)() as session:
        status = await outbox_status(session)
    assert status.pending >= 1 and status.dead == 0  # an outage never kills a row


async def test_redrive_puts_dead_letters_back_on_the_original_topic(db, broker, consumer):
    from shared.events.inbox import redrive_dlq

    worker = uuid.uuid4()
    producer = make_producer(broker.bootstrap, client_id="redrive")
    await producer.start()
    await producer.send_and_wait(TOPIC, b"{still not json", key=str(worker).encode())
    await producer.stop()
    await eventually(lambda: _dead_for(db, worker))
    count = await redrive_dlq(bootstrap=broker.bootstrap, topic=TOPIC, group_id=consumer.group_id)
    assert count >= 1
    records = await read_topic(broker.bootstrap, TOPIC, want=10_000, timeout=3)
    redriven = [r for r in records if r.key == str(worker).encode() and dict(r.headers or []).get("dlq_redriven")]
    assert len(redriven) == 1 and redriven[0].value == b"{still not json"
    # A second run takes nothing it already took: at most the letters the consumer wrote again for the
    # messages the first run re-published (they are still poison).
    assert await redrive_dlq(bootstrap=broker.bootstrap, topic=TOPIC, group_id=consumer.group_id) <= count


async def _dead_for(engine, worker) -> bool:
    async with engine.connect() as conn:
        return bool((await conn.execute(text("SELECT count(*) FROM dead_letters WHERE payload = :p"),
                                        {"p": "{still not json"})).scalar())


async def test_cloudevents_sdk_reads_every_relayed_message_in_structured_mode(db, broker):
    """The Kafka protocol binding, checked by the CloudEvents SDK itself on what the relay really sent."""
    worker = uuid.uuid4()
    sent = [make_event(t, EVENT_DATA[t].model_validate(SAMPLE_DATA[t] | {"worker_id": worker}), source="test")
            for t in EventType]
    await write_events(db, sent)
    await OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test").drain()
    for event in sent:
        records = [r for r in await read_topic(broker.bootstrap, TOPICS[event.type], want=10_000, timeout=3)
                   if r.key == str(worker).encode()]
        assert len(records) == 1, event.type
        headers = dict(records[0].headers)
        assert headers["content-type"].decode().startswith("application/cloudevents+json")
        message = kafka.KafkaMessage(headers=headers, key=records[0].key, value=records[0].value)
        for read in (kafka.from_structured(message, JSONFormat()), kafka.from_kafka_event(message)):
            attributes = read.get_attributes()
            assert attributes["specversion"] == "1.0" and attributes["id"] == str(event.id)
            assert attributes["source"] == "test" and attributes["type"] == event.type
            assert attributes["subject"] == f"worker/{worker}" and attributes["partitionkey"] == str(worker)
            assert attributes["datacontenttype"] == "application/json" and attributes["time"] == event.time
            assert read.get_data() == event.data == EVENT_DATA[EventType(event.type)].model_validate(
                read.get_data()).model_dump(mode="json")


async def test_relay_puts_each_key_on_the_default_partitioners_partition(db, broker):
    """The relay picks partitions itself (the key's hash cached): each record must be where aiokafka's default
    partitioner puts its key, or a worker's events could be split across partitions by other producers."""
    workers = [uuid.uuid4() for _ in range(40)]
    await write_events(db, [service_month(w, 1) for w in workers])
    await OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test").drain()
    keys = {str(w).encode() for w in workers}
    records = [r for r in await read_topic(broker.bootstrap, TOPIC, want=10_000, timeout=3) if r.key in keys]
    assert len(records) == len(workers)
    partitions = sorted({r.partition for r in records})
    assert len(partitions) > 1  # 40 keys over the topic's partitions: a constant partition would fail here
    for record in records:
        assert record.partition == DefaultPartitioner()(record.key, [0, 1, 2, 3], [0, 1, 2, 3]), record.key


SAMPLE_DATA = {
    EventType.CERTIFICATE_ISSUED: {"certificate_id": str(uuid.uuid4()), "level": "assistant",
                                   "certificate_no": "2026094011", "obtained_on": "2026-11-20"},
    EventType.CERTIFICATE_REVOKED: {"certificate_id": str(uuid.uuid4()), "revoked_on": "2026-11-21",
                                    "reason": "issued in error"},
    EventType.WORKER_REGISTRATION_CHANGED: {"registered_on": "2023-03-01", "division_code": "150624"},
    EventType.SERVICE_MONTH: {"station_id": str(uuid.uuid4()), "month": "2026-11", "full_time": True,
                              "service_hours": 160, "revision": 1},
}


def _same_partition(n: int, partition: int = 0) -> list[uuid.UUID]:
    """Workers whose events all go to `partition` of the topic's four (the default partitioner's choice)."""
    workers = []
    while len(workers) < n:
        worker = uuid.uuid4()
        if DefaultPartitioner()(str(worker).encode(), [0, 1, 2, 3], [0, 1, 2, 3]) == partition:
            workers.append(worker)
    return workers


async def _outbox_rows(engine, workers) -> dict:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT key, payload->'data'->>'revision' AS rev, published_at IS NOT NULL AS published, attempts, "
            "next_attempt_at IS NOT NULL AS backing_off, dead_at IS NOT NULL AS dead, last_error FROM outbox "
            "WHERE key = ANY(:k) ORDER BY id"), {"k": [str(w) for w in workers]})
        return {(r.key, r.rev): r for r in rows}


async def test_a_row_too_large_backs_off_alone_and_its_key_waits_behind_it(db, broker):
    """The relay sends a partition's rows as record batches; a row the producer refuses (larger than a request)
    backs off by itself: the other key's rows, in the same partition, go in order; its own key's later row waits
    behind it instead of overtaking it."""
    big_key, other = _same_partition(2)
    big = service_month(big_key, 1)
    big.data["pad"] = "x" * 1_100_000  # beyond the producer's request size (1 MiB)
    await write_events(db, [service_month(other, 1), big, service_month(other, 2), service_month(big_key, 2),
                            service_month(other, 3)])
    # A long backoff: the drain must end before the row's next attempt, however slow the machine.
    await OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test", base_backoff=60).drain()
    rows = await _outbox_rows(db, [big_key, other])
    assert [rows[(str(other), str(i))].published for i in (1, 2, 3)] == [True, True, True]
    stuck = rows[(str(big_key), "1")]
    assert not stuck.published and stuck.attempts == 1 and stuck.backing_off and not stuck.dead
    assert "MessageSizeTooLarge" in stuck.last_error
    assert not rows[(str(big_key), "2")].published  # never overtakes the row before it
    # Three are there (acknowledged before the drain returned); a fourth (a row of big_key) must not be.
    records = await read_topic(broker.bootstrap, TOPIC, want=4, keys=[big_key, other], timeout=5)
    assert [json.loads(r.value)["data"]["revision"] for r in records if r.key == str(other).encode()] == [1, 2, 3]
    assert not [r for r in records if r.key == str(big_key).encode()]
    async with db.begin() as conn:  # out of the way of the other tests' drains
        await conn.execute(text("UPDATE outbox SET dead_at = now() WHERE key = :k"), {"k": str(big_key)})


async def test_a_broker_restarted_empty_gets_every_event_though_nobody_recreates_its_topics(db):
    """The relay's sends of a broker outage reach the restarted, empty broker only after it answered a metadata
    request, which creates the topics again: the embedded broker acknowledges and loses records sent to a topic
    it does not know yet (README, "Broker restarts"). Nothing here calls ensure_topics after the restart."""
    broker = EmbeddedBroker(free_port())
    broker.start()
    await ensure_topics(broker.bootstrap, [TOPIC])
    relay = OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test", poll_interval=0.1, base_backoff=0.1)
    task = asyncio.create_task(relay.run())
    workers = [uuid.uuid4() for _ in range(8)]
    try:
        await write_events(db, [service_month(w, 1) for w in workers])
        await eventually(lambda: _published(db, workers, 8))
        broker.stop()
        await write_events(db, [service_month(w, 2) for w in workers])  # the relay tries them while it is down
        await asyncio.sleep(1.0)
        broker.start()
        await eventually(lambda: _published(db, workers, 16), timeout=60)
        records = await read_topic(broker.bootstrap, TOPIC, want=8, keys=workers, timeout=10)  # the log restarted too
        mine = {(r.key, json.loads(r.value)["data"]["revision"]) for r in records}
        assert mine >= {(str(w).encode(), 2) for w in workers}, sorted(mine)
    finally:
        relay.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.stop()


async def _published(engine, workers, n: int) -> bool:
    return sum(row.published for row in (await _outbox_rows(engine, workers)).values()) >= n


class _RefusingBatches:
    """The real producer, except that the broker refuses every record batch of more than one record as too large
    (a broker whose limit is below the producer's batch size): only the relay's row-by-row path gets through."""

    def __init__(self, producer):
        self.producer = producer
        self.refused = 0

    def __getattr__(self, name):
        return getattr(self.producer, name)

    async def send_batch(self, batch, topic, *, partition):
        if batch.record_count() > 1:
            self.refused += 1
            raise MessageSizeTooLargeError("the broker's limit is below this batch")
        return await self.producer.send_batch(batch, topic, partition=partition)


async def test_a_batch_refused_for_its_own_reason_is_sent_again_row_by_row(db, broker):
    workers = _same_partition(3)
    await write_events(db, [service_month(w, seq) for seq in (1, 2) for w in workers])
    relay = OutboxRelay(engine=db, bootstrap=broker.bootstrap, service="test")
    refusing = _RefusingBatches(await relay._get_producer())
    relay._producer = refusing
    try:
        assert await relay.drain() >= 6
    finally:
        await relay._drop_producer()
    assert refusing.refused >= 1
    rows = await _outbox_rows(db, workers)
    assert all(r.published and r.attempts == 1 and not r.backing_off for r in rows.values())  # nobody backs off
    records = await read_topic(broker.bootstrap, TOPIC, want=6, keys=workers)
    for worker in workers:
        assert [json.loads(r.value)["data"]["revision"] for r in records if r.key == str(worker).encode()] == [1, 2]
