"""Idempotent inbox consumer: the event id is recorded in the same transaction as its effect.

What one poll returns (every partition's records) is applied in ONE transaction, by the batch: the
event ids are inserted in one statement (ids already there are skipped), and the new events of each
type go to that type's batch handler at once, in the order they arrived. A handler wrapped in
`Batched` applies them set-based; any other handler is called once per event (`batch_handler`).
Offsets are committed manually, after that transaction.

If the batch fails, that batch only is applied again one by one, each event in a savepoint: a handler
that keeps failing (a poison message) is retried `max_attempts` times, then sent to `<topic>.dlq` with
the error in its headers, recorded in `dead_letters`, and the consumer moves on. A database outage (or a
deadlock) is not poison: the transaction is rolled back, the partitions rewound, and the same messages
are tried again later.

Events of different types come from different topics, which Kafka never orders against each other; so
the batch path applies them type by type, and the handlers of different types must commute.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import TopicPartition
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import driver_connection, make_sessionmaker
from shared.events.envelope import CloudEvent, dlq_topic
from shared.events.kafka import make_consumer, make_producer
from shared.events.tables import DEAD_LETTERS, INBOX

log = logging.getLogger("shared.inbox")
Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[CloudEvent]], Awaitable[None]]


class Batched:
    """A handler that applies a list of events of its type at once, in their order, with the same result as
    applying them one after the other. Called with one event (the one-by-one path) it is a batch of one."""

    def __init__(self, apply: BatchHandler):
        self.apply = apply

    async def __call__(self, session: AsyncSession, event: CloudEvent) -> None:
        await self.apply(session, [event])


def batch_handler(handler: Handler) -> BatchHandler:
    """The batch form of a handler: its own for a `Batched` one, else a loop that calls it once per event."""
    if isinstance(handler, Batched):
        return handler.apply

    async def one_by_one(session: AsyncSession, events: list[CloudEvent]) -> None:
        for event in events:
            await handler(session, event)
    return one_by_one


def _content_type(record) -> list[tuple[str, bytes]]:
    """The record's content-type header, carried along when it is dead-lettered or redriven (the payload is
    forwarded as it came, so it keeps its content mode)."""
    return [(k, v) for k, v in (record.headers or ()) if k.lower() == "content-type"]


class InfrastructureError(Exception):
    """The database or broker is unavailable: retry the batch, never dead-letter for this."""


# A deadlock or serialization failure is the database's doing, not the event's: retry, never dead-letter.
_TRANSIENT_SQLSTATES = {"40P01", "40001"}


def _is_infrastructure(exc: BaseException) -> bool:
    if isinstance(exc, InfrastructureError | OSError | ConnectionError | asyncio.TimeoutError):
        return True
    if getattr(getattr(exc, "orig", None), "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or type(exc).__name__ in {
        "ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionFailureError"}


def _freeze_what_lives_now() -> None:
    """What the process holds when its consumer starts (modules, the app, validators, the metadata: some 150,000
    objects) lives as long as the process; moved out of the cyclic collector's reach (`gc.freeze`), after one
    collection so that no garbage is frozen with it. A burst's polls allocate hundreds of thousands of objects that
    live for a transaction, and each full collection they set off walked the whole heap again: 20 of the 50 us of
    Python per event at 5,000 per poll (`bench/consumer.py`). The rest of the process is collected as before."""
    gc.collect()
    gc.freeze()


# The batch's event ids in one statement (a fixed text: prepared once); the ids already there are skipped, and
# of the same id twice in the batch the first is kept.
_INSERT_NEW = """
INSERT INTO inbox (event_id, event_type, topic, partition, "offset")
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::bigint[])
ON CONFLICT DO NOTHING RETURNING event_id"""


class InboxConsumer:
    def __init__(self, *, engine: AsyncEngine, bootstrap: str, service: str, handlers: dict[str, Handler],
                 topics: Mapping[str, str], group_id: str | None = None, max_attempts: int = 3,
                 max_records: int = 5000):
        """`handlers` by event type; `topics` maps event types to topics (it subscribes to its handlers' topics);
        `max_records`: at most this many records per poll, and so per transaction (5,000: a few hundred ms of work
        in a burst; 1,000 cost a third more CPU per event in the fixed work of each transaction and in the runs and
        change marks rebuilt once per worker and batch)."""
        unknown = sorted(set(handlers) - set(topics))
        if unknown:
            raise ValueError(f"no topic for event types {unknown}")
        self.sessionmaker = make_sessionmaker(engine)
        self.bootstrap = bootstrap
        self.service = service
        self.handlers = handlers
        self.batch_handlers = {t: batch_handler(h) for t, h in handlers.items()}
        self.max_records = max_records
        self.group_id = group_id or service
        self.max_attempts = max_attempts
        self.topics = sorted({topics[t] for t in handlers})
        self.processed = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.assigned = asyncio.Event()
        self.last_progress: float | None = None
        self._consumer = None
        self._producer = None
        self._stopping = asyncio.Event()
        self._next_offset: dict = {}  # per partition: the offset after the last record applied
        self._committed: dict = {}  # per partition: the offset we last committed

    def stop(self) -> None:
        self._stopping.set()

    async def lag(self) -> int:
        """Messages on the broker for this consumer's partitions not yet applied (as of the last fetch)."""
        consumer = self._consumer
        if consumer is None:
            return 0
        total = 0
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                total += max(0, highwater - await consumer.position(tp))
        return total

    def stalled(self, *, now: float, after: float = 120.0) -> bool:
        """True when the poll loop has not come round for `after` seconds (a stuck consumer)."""
        return self.last_progress is not None and now - self.last_progress > after

    async def _start_consumer(self):
        backoff = 0.5
        while not self._stopping.is_set():
            consumer = make_consumer(self.bootstrap, *self.topics, group_id=self.group_id,
                                     client_id=f"{self.service}-inbox")
            try:
                await consumer.start()
                return consumer
            except Exception as exc:
                log.warning("consumer cannot start yet: %r", exc)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        return None

    async def run(self) -> None:
        self._consumer = await self._start_consumer()
        if self._consumer is None:
            return
        _freeze_what_lives_now()
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self.max_records)
                if self._consumer.assignment():
                    self.assigned.set()
                    self.last_progress = loop.time()
                if batches:
                    await self._apply_poll(batches)
                self._rewind_if_log_restarted()
        finally:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            if self._producer is not None:
                with contextlib.suppress(Exception):
                    await self._producer.stop()

    async def _apply_poll(self, batches: dict) -> None:
        """Everything one poll returned, in one transaction; then the offsets of every partition in it."""
        records = [record for partition in batches.values() for record in partition]
        try:
            await self._process(records)
        except Exception as exc:
            if not _is_infrastructure(exc):
                raise
            log.warning("inbox batch of %d records rolled back, will retry: %r", len(records), exc)
            for tp, partition in batches.items():
                self._consumer.seek(tp, partition[0].offset)
            await asyncio.sleep(1.0)
            return
        offsets = {tp: partition[-1].offset + 1 for tp, partition in batches.items()}
        self._next_offset.update(offsets)
        for tp in await self._offsets_forgotten(offsets):
            # The broker restarted and forgot its log and our offsets; what it holds now was published after
            # the restart, and we may have been reading it from our old offset on: read it from the start.
            log.warning("%s: the broker forgot our committed offset (restarted?): reading it again from 0", tp)
            self._consumer.seek(tp, 0)
            self._next_offset[tp] = 0
            self._committed.pop(tp, None)
            del offsets[tp]
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
            self._committed.update(offsets)
        except Exception as exc:  # redelivery is harmless: the inbox deduplicates
            log.warning("offset commit failed on %s: %r", sorted(offsets), exc)

    async def _offsets_forgotten(self, offsets: dict) -> list:
        """The partitions whose offset we committed before and the broker no longer has (a memory-only broker that
        restarted: the high watermark alone misses it when the new log grew past our offset before we looked)."""
        ours = [tp for tp in offsets if tp in self._committed]
        if not ours:
            return []
        try:
            theirs = await asyncio.gather(*(self._consumer.committed(tp) for tp in ours))
        except Exception as exc:  # the commit below will tell; redelivery is harmless
            log.warning("committed offsets unreadable: %r", exc)
            return []
        return [tp for tp, offset in zip(ours, theirs, strict=True) if offset is None or offset < self._committed[tp]]

    def _rewind_if_log_restarted(self) -> None:
        """A broker that lost its log (the embedded one is memory-only) starts offsets again at 0 and answers
        fetches past its end with nothing, not OFFSET_OUT_OF_RANGE: a consumer would wait there forever.
        When the high watermark falls below where we are, read the partition again from the start; the inbox
        drops what was already applied."""
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            ahead = self._next_offset.get(tp)
            if highwater is not None and ahead is not None and ahead > highwater:
                log.warning("%s: broker log ends at %s, before our offset %s (broker restarted?): rewinding",
                            tp, highwater, ahead)
                self._consumer.seek(tp, 0)
                self._next_offset[tp] = 0

    async def _process(self, records) -> None:
        async with self.sessionmaker() as session, session.begin():
            if await self._apply_batch(session, records):
                return
            for record in records:  # something in the batch failed: isolate it, one savepoint per event
                await self.handle_record(session, record)

    async def _apply_batch(self, session: AsyncSession, records) -> bool:
        """Fast path: the whole batch in one savepoint, one inbox insert, one call per event type of its batch
        handler with the new events in arrival order. False (nothing of it kept) if anything in it fails."""
        events = []
        for record in records:
            try:
                event = CloudEvent.model_validate_json(record.value)
            except Exception:
                return False
            if event.type not in self.handlers:
                return False
            events.append((record, event))
        applied = 0
        try:
            async with session.begin_nested():
                new_ids = {row[0] for row in await (await driver_connection(session)).fetch(
                    _INSERT_NEW, [e.id for _, e in events], [e.type for _, e in events],
                    [r.topic for r, _ in events], [r.partition for r, _ in events], [r.offset for r, _ in events])}
                by_type: dict[str, list[CloudEvent]] = {}
                for _record, event in events:
                    if event.id in new_ids:
                        new_ids.discard(event.id)  # the same id twice in one batch applies once, the first
                        by_type.setdefault(event.type, []).append(event)
                for event_type, typed in by_type.items():
                    await self.batch_handlers[event_type](session, typed)
                    applied += len(typed)
        except Exception as exc:
            if _is_infrastructure(exc):
                raise
            log.info("inbox batch of %d records failed (%r): applying it one by one", len(records), exc)
            return False
        self.processed += applied
        self.duplicates += len(events) - applied
        return True

    async def handle_record(self, session: AsyncSession, record) -> None:
        try:
            event = CloudEvent.model_validate_json(record.value)
            handler = self.handlers.get(event.type)
            if handler is None:
                raise ValueError(f"no handler for event type {event.type!r}")
        except Exception as exc:
            await self._dead_letter(session, record, exc, None, attempts=1)
            return
        last: BaseException | None = None
        for _attempt in range(self.max_attempts):
            try:
                async with session.begin_nested():
                    new = (await session.execute(
                        pg_insert(INBOX).values(
                            event_id=event.id, event_type=event.type, topic=record.topic,
                            partition=record.partition, offset=record.offset,
                        ).on_conflict_do_nothing().returning(INBOX.c.event_id))).first()
                    if new is None:
                        self.duplicates += 1
                        return
                    await handler(session, event)
                self.processed += 1
                return
            except Exception as exc:
                if _is_infrastructure(exc):
                    raise
                last = exc
        await self._dead_letter(session, record, last, event, attempts=self.max_attempts)

    async def _dead_letter(self, session: AsyncSession, record, exc: BaseException | None,
                           event: CloudEvent | None, *, attempts: int) -> None:
        error = repr(exc)[:2000]
        log.error("dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, error)
        if self._producer is None:
            self._producer = make_producer(self.bootstrap, client_id=f"{self.service}-dlq")
            try:
                await self._producer.start()
            except Exception as start_exc:
                self._producer = None
                raise InfrastructureError(repr(start_exc)) from start_exc
        headers = [
            *_content_type(record), ("dlq_error", error.encode()), ("dlq_attempts", str(attempts).encode()),
            ("dlq_original_topic", record.topic.encode()), ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()), ("dlq_consumer_group", self.group_id.encode()),
        ]
        try:
            await self._producer.send_and_wait(dlq_topic(record.topic), value=record.value, key=record.key,
                                               headers=headers)
        except Exception as send_exc:
            raise InfrastructureError(repr(send_exc)) from send_exc
        await session.execute(insert(DEAD_LETTERS).values(
            event_id=event.id if event else None, topic=record.topic, partition=record.partition,
            offset=record.offset, error=error, payload=(record.value or b"").decode("utf-8", "replace")))
        self.dead_lettered += 1


async def redrive_dlq(*, bootstrap: str, topic: str, group_id: str) -> int:
    """Re-publish this consumer group's dead letters of `topic` to the original topic; returns how many.

    Only the letters present when it starts are taken (end offsets are read first): a message that is
    still poison is dead-lettered again by the consumer, and must not be chased round and round.
    Progress is committed under `<group>.redrive`, so a second run does not re-publish the same letters.
    """
    consumer = make_consumer(bootstrap, group_id=f"{group_id}.redrive", client_id=f"{group_id}-redrive")
    producer = make_producer(bootstrap, client_id=f"{group_id}-redrive")
    await consumer.start()
    await producer.start()
    count = 0
    try:
        await consumer.topics()  # metadata, so the partitions are known without joining a group
        partitions = sorted(consumer.partitions_for_topic(dlq_topic(topic)) or ())
        tps = [TopicPartition(dlq_topic(topic), p) for p in partitions]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if await consumer.position(tp) < end[tp]}
        while pending:
            for tp, records in (await consumer.getmany(*pending, timeout_ms=500)).items():
                for record in records:
                    if record.offset >= end[tp]:
                        break
                    headers = dict(record.headers or [])
                    if headers.get("dlq_consumer_group", b"").decode() == group_id:
                        original = headers.get("dlq_original_topic", topic.encode()).decode()
                        await producer.send_and_wait(original, value=record.value, key=record.key,
                                                     headers=[*_content_type(record), ("dlq_redriven", b"1")])
                        count += 1
                done = min(records[-1].offset + 1, end[tp])
                await consumer.commit({tp: done})
                if done >= end[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
        await producer.stop()
    return count


def event_json(event: CloudEvent) -> bytes:
    return json.dumps(event.model_dump(mode="json"), ensure_ascii=False).encode()
