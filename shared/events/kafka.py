"""Kafka clients with every delivery setting explicit (never aiokafka's defaults), and topic admin."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger("shared.kafka")
BATCH_BYTES = 512 * 1024  # a record batch's size (before compression): the relay fills batches up to it


def make_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    # acks=all and no idempotence (the embedded broker rejects it): duplicates are possible on
    # retry, and every consumer deduplicates by event id. lz4: the broker (Tansu) takes compressed batches
    # (lz4, zstd, snappy and gzip all tried); a batch of service-month events shrinks to a fifth, which a
    # memory-only broker holds through a burst, at no measurable cost in rate; gzip halved the consumer's.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id=client_id, acks="all", enable_idempotence=False,
        request_timeout_ms=10_000, retry_backoff_ms=200, linger_ms=5, max_batch_size=BATCH_BYTES,
        compression_type="lz4",
    )


def make_consumer(bootstrap: str, *topics: str, group_id: str | None, client_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=group_id, client_id=client_id,
        enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_uncommitted",
        max_poll_records=500, fetch_max_wait_ms=100, session_timeout_ms=30_000, heartbeat_interval_ms=3_000,
        request_timeout_ms=40_000, metadata_max_age_ms=30_000,
    )


async def ensure_topics(bootstrap: str, topics: list[str], *, partitions: int = 4, timeout: float = 30.0) -> None:
    """Create the topics that are missing (the embedded broker forgets them when it restarts).

    The platform's topics are `shared.contracts.events.all_topics()`.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [NewTopic(t, partitions, 1) for t in topics if t not in existing]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    pass
            return
        except Exception as exc:  # broker not up yet
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"Kafka broker at {bootstrap} not reachable: {exc}") from exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def broker_reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), timeout)
            writer.close()
            return True
        except (OSError, TimeoutError, ValueError):
            continue
    return False
