"""Certificates: rules, and the events they put on the broker through the outbox."""

from __future__ import annotations

import asyncio
import json
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.contracts.events import TOPICS, EventType
from tests.support import assert_problem, eventually


async def rows(url: str, sql: str, **params) -> list:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def read_key(bootstrap: str, topic: str, key: str, *, timeout: float = 3.0) -> list[dict]:
    """Every record of `key` on the topic, read by partition assignment (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.fetch_all_metadata()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        end = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        records = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            positions = [await consumer.position(tp) for tp in end]
            if all(pos >= off for pos, off in zip(positions, end.values(), strict=True)):
                break
        return [json.loads(r.value) for r in records if r.key == key.encode()]
    finally:
        await consumer.stop()


async def published(url: str, worker_id: str) -> bool:
    pending = await rows(url, "SELECT count(*) FROM outbox WHERE key = :k AND published_at IS NULL", k=worker_id)
    return pending[0][0] == 0


async def test_certificate_issued_reaches_the_broker_once(app_client, api, broker):
    w = await api.worker(station_id=(await api.station())["id"])
    r = await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=api.admin, json={
        "level": "intermediate", "certificate_no": "2022091123", "obtained_on": "2022-06-19",
        "platform_registered_on": "2022-08-01", "continuing_education_hours": 12})
    assert r.status_code == 201, r.text
    cert = r.json()
    assert cert["platform_registration_expires_on"] == "2025-08-01" and cert["status"] == "valid"
    # failing requests for the same worker put nothing in the outbox
    bad = [
        ({"level": "senior", "certificate_no": "F1", "obtained_on": "2999-01-01"}, 422, "obtained_on"),
        ({"level": "expert", "certificate_no": "F2", "obtained_on": "2020-01-01"}, 422, "level"),
        ({"level": "assistant", "certificate_no": "2022091123", "obtained_on": "2020-01-01"}, 409, "certificate_no"),
        ({"level": "assistant", "certificate_no": "F3", "obtained_on": "2020-01-01",
          "platform_registered_on": "2999-01-01"}, 422, "platform_registered_on"),
    ]
    for body, status, field in bad:
        assert_problem(await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=api.admin, json=body),
                       status, field=field)
    assert_problem(await app_client.post(f"/v1/workers/{uuid.uuid4()}/certificates", headers=api.admin, json={
        "level": "assistant", "certificate_no": "F4", "obtained_on": "2020-01-01"}), 404)
    url = app_client.database_url
    assert len(await rows(url, "SELECT 1 FROM certificates WHERE worker_id = :w", w=uuid.UUID(w["id"]))) == 1
    await eventually(lambda: published(url, w["id"]), timeout=30)
    events = await read_key(broker.bootstrap, TOPICS[EventType.CERTIFICATE_ISSUED], w["id"])
    assert len(events) == 1
    event = events[0]
    assert event["type"] == EventType.CERTIFICATE_ISSUED.value and event["source"] == "registry"
    assert event["data"] == {"certificate_id": cert["id"], "worker_id": w["id"], "level": "intermediate",
                             "certificate_no": "2022091123", "obtained_on": "2022-06-19"}


async def test_revoke_and_registration_events(app_client, api, mint, broker):
    w = await api.worker(station_id=(await api.station())["id"])
    cert = (await app_client.post(f"/v1/workers/{w['id']}/certificates", headers=api.admin, json={
        "level": "assistant", "certificate_no": "R-1", "obtained_on": "2021-03-01"})).json()
    revoke = f"/v1/workers/{w['id']}/certificates/{cert['id']}/revoke"
    assert_problem(await app_client.post(revoke, headers=api.admin, json={"revoked_on": "2999-01-01", "reason": "x"}),
                   422, field="revoked_on")
    assert_problem(await app_client.post(revoke, headers=api.admin, json={"revoked_on": "2020-01-01", "reason": "x"}),
                   422, field="revoked_on")
    assert_problem(await app_client.post(revoke, headers=mint.headers("auditor"), json={
        "revoked_on": "2022-01-01", "reason": "x"}), 403)
    assert_problem(await app_client.post(f"/v1/workers/{w['id']}/certificates/{uuid.uuid4()}/revoke",
                                         headers=api.admin, json={"revoked_on": "2022-01-01", "reason": "x"}), 404)
    r = await app_client.post(revoke, headers=api.admin, json={"revoked_on": "2022-01-01", "reason": "证书注销"})
    assert r.json()["status"] == "revoked" and r.json()["revoke_reason"] == "证书注销"
    assert_problem(await app_client.post(revoke, headers=api.admin, json={"revoked_on": "2022-01-01", "reason": "x"}),
                   409)
    await app_client.post(f"/v1/workers/{w['id']}/registration", headers=api.admin,
                          json={"registered_on": "2023-03-01", "division_code": "150624"})
    url = app_client.database_url
    types = [r[0] for r in await rows(url, "SELECT event_type FROM outbox WHERE key = :k ORDER BY id", k=w["id"])]
    assert types == [EventType.CERTIFICATE_ISSUED.value, EventType.CERTIFICATE_REVOKED.value,
                     EventType.WORKER_REGISTRATION_CHANGED.value]
    await eventually(lambda: published(url, w["id"]), timeout=30)
    revoked = await read_key(broker.bootstrap, TOPICS[EventType.CERTIFICATE_REVOKED], w["id"])
    assert [e["data"] for e in revoked] == [{"certificate_id": cert["id"], "worker_id": w["id"],
                                             "revoked_on": "2022-01-01", "reason": "证书注销"}]
    registered = await read_key(broker.bootstrap, TOPICS[EventType.WORKER_REGISTRATION_CHANGED], w["id"])
    assert [e["data"] for e in registered] == [{"worker_id": w["id"], "registered_on": "2023-03-01",
                                                "division_code": "150624"}]
    r = await app_client.get(f"/v1/workers/{w['id']}/certificates", headers=mint.headers("auditor"))
    assert [c["status"] for c in r.json()["items"]] == ["revoked"]
