"""Transactional outbox: enqueue in the business transaction; a single relay publishes in order per key.

Ordering: rows are read in id order and grouped by the partition their key goes to (the default
partitioner's); each partition's rows go out as record batches, one after the other, each waiting for
the broker's acknowledgement, and a partition stops at its first failure; partitions go concurrently.
So a key's rows reach its partition in their order (what a consumer can see: Kafka orders nothing
across topics or partitions). A row is marked published only after `acks=all`. A row whose failure
is its own (not a broker outage) backs off and, after `max_attempts`, is marked dead; while a row is
backing off or dead, later rows of the same key wait behind it instead of overtaking it, in every topic, from
the next round on. Within the round in which a row fails, the same key's rows of other topics (other
partitions) may still go out: topics are not ordered for a consumer anyway, and the inbox's handlers of
different types commute (shared/events/inbox.py).

Under a burst the relay lingers a few milliseconds after a wake-up, so that one round reads, sends and
marks many rows at once (`linger`, `batch_size`); the payload goes out as PostgreSQL renders it, without
decoding and encoding it again, and the rows are read and marked on the driver connection. One relay per
database is active at a time: it holds a PostgreSQL advisory lock on a dedicated connection
that also LISTENs for wake-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aiokafka.errors import InvalidTopicError, MessageSizeTooLargeError, RecordTooLargeError
from aiokafka.partitioner import murmur2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import driver_connection, make_sessionmaker
from shared.events.envelope import CloudEvent, structured_headers
from shared.events.kafka import BATCH_BYTES, make_producer

log = logging.getLogger("shared.outbox")
NOTIFY_CHANNEL = "outbox"
RELAY_LOCK_ID = 0x50C1A1  # one active relay per service database


def _topic(event: CloudEvent, topics: Mapping[str, str]) -> str:
    topic = topics.get(event.type)
    if topic is None:
        raise ValueError(f"no topic for event type {event.type!r}")
    return topic


def _row(event: CloudEvent, topics: Mapping[str, str]) -> dict:
    return {
        "event_id": event.id, "event_type": event.type, "topic": _topic(event, topics),
        "key": event.partitionkey, "payload": event.model_dump(mode="json"),
    }


async def enqueue(session: AsyncSession, *events: CloudEvent, topics: Mapping[str, str]) -> None:
    """Write events in the caller's transaction; they are published only if it commits.

    `topics` maps each event type to its topic (the platform's map is `shared.contracts.events.TOPICS`).
    """
    await enqueue_many(session, events, topics=topics)


async def enqueue_many(session: AsyncSession, events: Iterable[CloudEvent], *, topics: Mapping[str, str]) -> None:
    """Write many events in one statement, in their order (the outbox ids keep it, and with it the order per key)."""
    rows = [(e.id, e.type, _topic(e, topics), e.partitionkey, e.model_dump_json()) for e in events]
    if not rows:
        return
    await (await driver_connection(session)).execute(_INSERT, *map(list, zip(*rows, strict=True)))


# The rows and the relay's wake-up (delivered at commit) in one statement: one round trip per business transaction.
_INSERT = f"""
WITH inserted AS (
  INSERT INTO outbox (event_id, event_type, topic, key, payload)
  SELECT e, t, p, k, j::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
    WITH ORDINALITY AS r(e, t, p, k, j, n)
  ORDER BY n)
SELECT pg_notify('{NOTIFY_CHANNEL}', '')"""


# Keys with a row backing off or dead are computed once per batch (an uncorrelated InitPlan): a
# correlated NOT EXISTS per candidate degrades quadratically while the table's statistics are stale.
# The payload as text: the stored event, without decoding and encoding it again in Python.
_PENDING = """
SELECT o.id, o.topic, o.key, o.payload::text AS payload FROM outbox o
WHERE o.published_at IS NULL AND o.dead_at IS NULL
  AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
  AND o.key <> ALL (ARRAY(
    SELECT b.key FROM outbox b
    WHERE b.published_at IS NULL AND (b.dead_at IS NOT NULL OR b.next_attempt_at > now())))
ORDER BY o.id LIMIT $1
"""
_MARK_PUBLISHED = ("UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL "
                   "WHERE id = ANY($1)")


# Failures that belong to the row itself; every other failure is treated as the broker's.
_ROW_ERRORS = (MessageSizeTooLargeError, InvalidTopicError, RecordTooLargeError, TypeError, ValueError)


def _transient(exc: BaseException) -> bool:
    """Anything but a row's own fault is an outage: retry forever without counting attempts.

    Brokers answer oddly while they restart (the embedded one says UnknownError), so only errors that
    can only be the row's fault count towards marking it dead.
    """
    return not isinstance(exc, _ROW_ERRORS)


@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    """The default partitioner's hash of a key (aiokafka's murmur2 is pure Python, a fifth of the relay's CPU per
    event); a worker's events come again and again, so it is computed once per key."""
    return murmur2(key) & 0x7FFFFFFF


HEADERS = structured_headers()


async def _delivered(sending, deadline: float) -> BaseException | None:
    """Hands a send to the producer and waits for the broker's acknowledgement until `deadline`; the failure, if
    any (no acknowledgement in time: TimeoutError, a broker outage like any other)."""
    try:
        async with asyncio.timeout_at(deadline):
            await (await sending)
    except Exception as exc:
        return exc
    return None


class BrokerUnavailable(Exception):
    pass


@dataclass
class OutboxStatus:
    pending: int
    dead: int
    oldest_pending_age_s: float


class OutboxRelay:
    def __init__(self, *, engine: AsyncEngine, bootstrap: str, service: str, batch_size: int = 2000,
                 poll_interval: float = 1.0, max_attempts: int = 8, base_backoff: float = 0.5,
                 send_timeout: float = 15.0, linger: float = 0.005):
        self.engine = engine
        self.sessionmaker = make_sessionmaker(engine)
        self.bootstrap = bootstrap
        self.service = service
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.send_timeout = send_timeout
        self.linger = linger
        self.published = 0
        self.is_leader = False
        self._producer = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    async def _get_producer(self):
        if self._producer is None:
            producer = make_producer(self.bootstrap, client_id=f"{self.service}-relay")
            try:
                await producer.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise BrokerUnavailable(str(exc)) from exc
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def publish_once(self, raw=None) -> int:
        """Publish one batch; returns how many rows were published. Raises BrokerUnavailable.

        The rows are read and marked on the driver connection: a round is up to `batch_size` rows, and SQLAlchemy's
        per-row work would cost more than the database's (the statements are plain; nothing here needs the ORM).
        `raw`: the leader's own connection (`run`), used for both; without it (`drain`), a pooled one each time.

        A round hands rows to the producer only after the broker answered a metadata request (one round trip):
        the embedded broker, restarted, acknowledges and then loses records sent to a topic it does not know yet
        (README, "Broker restarts"), and a producer's retries after an outage could reach it before anything
        else recreated the topic. Its metadata request does (as it would on a Kafka cluster with topic
        auto-creation); one that fails, or no answer within `send_timeout`, means the broker is down, and nothing is
        sent this round. A restart while a round's records are in flight is not covered: the producer may resend
        them to the restarted broker before anything recreated the topic (README, "Broker restarts")."""
        if raw is None:
            async with self.engine.connect() as conn:
                return await self.publish_once((await conn.get_raw_connection()).driver_connection)
        rows = await raw.fetch(_PENDING, self.batch_size)
        if not rows:
            return 0
        producer = await self._get_producer()
        try:
            async with asyncio.timeout(self.send_timeout):
                answered = await producer.client.force_metadata_update()
        except TimeoutError:
            answered = False
        if not answered:
            await self._drop_producer()
            raise BrokerUnavailable("the broker answered no metadata request")
        sent: list[int] = []
        failed: dict[int, BaseException] = {}
        await self._send(producer, rows, sent, failed)
        transient = [i for i, e in failed.items() if _transient(e)]
        if sent:
            await raw.execute(_MARK_PUBLISHED, sent)
        if not failed:
            self.published += len(sent)
            return len(sent)
        async with self.sessionmaker() as session, session.begin():
            if transient:
                await session.execute(text("UPDATE outbox SET last_error = :err WHERE id = ANY(:ids)"),
                                      {"ids": transient, "err": repr(failed[transient[0]])[:2000]})
            for row_id, exc in failed.items():
                if row_id in transient:
                    continue
                log.warning("outbox row %s failed: %r", row_id, exc)
                await session.execute(text("""
                    UPDATE outbox SET attempts = attempts + 1, last_error = :err,
                      next_attempt_at = now() + make_interval(secs => :backoff * power(2, attempts)),
                      dead_at = CASE WHEN attempts + 1 >= :max THEN now() END
                    WHERE id = :id"""), {"id": row_id, "err": repr(exc)[:2000], "backoff": self.base_backoff,
                                         "max": self.max_attempts})
        self.published += len(sent)
        if transient:
            await self._drop_producer()
            raise BrokerUnavailable(repr(failed[transient[0]]))
        return len(sent)

    async def _send(self, producer, rows: list, sent: list[int], failed: dict[int, BaseException]) -> None:
        """Each partition's rows in id order (so every key's in order) as record batches of the producer's size,
        one batch in flight per partition, the partitions at once. A batch is one request and one acknowledgement
        for up to some thousand rows: no future, callback and wake-up per row (with a `send()` per row they were
        half the relay's CPU, `bench/events.py`). A partition stops at its first failure: the rows after it stay
        pending for the next round, behind it.

        A batch that the broker refuses for a reason of its own (a record too large for the broker) is sent again
        row by row, so that only the row at fault backs off; a record larger than a batch goes alone through
        `send()`, which checks its size against the producer's limit."""
        loop = asyncio.get_running_loop()
        by_partition: dict[tuple[str, int], list] = {}
        candidates: dict[str, list[int] | BaseException] = {}
        for row in rows:
            topic, key = row["topic"], row["key"].encode()
            if topic not in candidates:  # the default partitioner's choice, from the same metadata, hash cached
                try:
                    async with asyncio.timeout(self.send_timeout):  # a topic the broker does not have: an outage
                        candidates[topic] = list(await producer.partitions_for(topic))
                except Exception as exc:
                    candidates[topic] = exc
            if isinstance(partitions := candidates[topic], BaseException):
                failed[row["id"]] = partitions
                continue
            partition = partitions[_key_hash(key) % len(partitions)]
            by_partition.setdefault((topic, partition), []).append((row["id"], key, row["payload"].encode()))
        deadline = loop.time() + self.send_timeout
        await asyncio.gather(*(self._send_partition(producer, topic, partition, items, sent, failed, deadline)
                               for (topic, partition), items in by_partition.items()))

    async def _send_partition(self, producer, topic: str, partition: int, items: list, sent: list[int],
                              failed: dict[int, BaseException], deadline: float) -> None:
        """One partition's rows (id, key, value), batch after batch, each acknowledged before the next goes."""

        async def send_one(key: bytes, value: bytes) -> BaseException | None:
            return await _delivered(producer.send(topic, value=value, key=key, partition=partition, headers=HEADERS),
                                    deadline)

        done = 0
        while done < len(items):
            batch, count = producer.create_batch(), 0
            for _row_id, key, value in items[done:]:  # a batch takes its first record whatever its size: a larger
                if len(value) > BATCH_BYTES or batch.append(  # one goes alone through send(), below
                        timestamp=None, key=key, value=value, headers=HEADERS) is None:
                    break
                count += 1
            batch.close()
            chunk = items[done:done + (count or 1)]
            if count:
                error = await _delivered(producer.send_batch(batch, topic, partition=partition), deadline)
            else:
                error = await send_one(*chunk[0][1:])
            if error is not None and count > 1 and not _transient(error):
                for row_id, key, value in chunk:  # find the row at fault: the rows before it go, it backs off
                    error = await send_one(key, value)
                    if error is not None:
                        failed[row_id] = error
                        return
                    sent.append(row_id)
            elif error is not None:
                failed.update((row_id, error) for row_id, _key, _value in chunk)
                return
            else:
                sent.extend(row_id for row_id, _key, _value in chunk)
            done += len(chunk)

    async def drain(self) -> int:
        total = 0
        while (n := await self.publish_once()) > 0:
            total += n
        return total

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Forever: take the leader lock, then publish whenever notified or every poll interval."""
        backoff = self.base_backoff
        while not self._stopping.is_set():
            try:
                async with self.engine.connect() as conn:
                    raw = (await conn.get_raw_connection()).driver_connection
                    if not await raw.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_ID):
                        self.is_leader = False
                        await self._sleep(self.poll_interval * 5)
                        continue
                    self.is_leader = True
                    def on_notify(*_args) -> None:
                        self._wake.set()

                    await raw.add_listener(NOTIFY_CHANNEL, on_notify)
                    try:
                        while not self._stopping.is_set():
                            self._wake.clear()
                            try:
                                # On the connection that holds the lock: no pooled check-out and liveness ping
                                # per round.
                                n = await self.publish_once(raw)
                                backoff = self.base_backoff
                            except BrokerUnavailable as exc:
                                log.warning("broker unavailable, outbox waits: %s", exc)
                                await self._sleep(backoff)
                                backoff = min(backoff * 2, 10.0)
                                continue
                            if n < self.batch_size:
                                await self._sleep(self.poll_interval)
                                # Woken by a commit: let the burst it may belong to gather, then take it at once.
                                await asyncio.sleep(self.linger)
                            if raw.is_closed():
                                break
                    finally:
                        self.is_leader = False
                        with contextlib.suppress(Exception):
                            await raw.remove_listener(NOTIFY_CHANNEL, on_notify)
                        with contextlib.suppress(Exception):
                            await raw.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_ID)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database gone: retry; nothing is lost, rows wait in the outbox
                log.warning("outbox relay error, retrying: %r", exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        await self._drop_producer()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)


async def outbox_status(session: AsyncSession) -> OutboxStatus:
    row = (await session.execute(text("""
        SELECT count(*) FILTER (WHERE dead_at IS NULL) AS pending,
               count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead,
               coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE dead_at IS NULL)), 0) AS age
        FROM outbox WHERE published_at IS NULL"""))).one()
    return OutboxStatus(pending=row.pending, dead=row.dead, oldest_pending_age_s=float(row.age))


async def replay_outbox(session: AsyncSession, *, since: datetime, include_dead: bool = True) -> int:
    """Mark events created since `since` unpublished again; consumers deduplicate by event id."""
    result = await session.execute(text("""
        UPDATE outbox SET published_at = NULL, attempts = 0, next_attempt_at = NULL, last_error = NULL,
          dead_at = NULL
        WHERE created_at >= :since AND (published_at IS NOT NULL OR (:dead AND dead_at IS NOT NULL))"""),
        {"since": since, "dead": include_dead})
    await session.execute(text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"))
    return result.rowcount
