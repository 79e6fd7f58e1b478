"""The real path: events produced to the real topics, applied by the app's own inbox consumer (one group)."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from sqlalchemy import text

from services.subsidy.app import create_app
from services.subsidy.settings import SubsidySettings
from shared.contracts.events import TOPICS, EventType
from shared.events.kafka import make_producer
from tests.subsidy.conftest import POLICY, Events
from tests.support import eventually, fresh_database, running_app


@pytest.fixture(scope="module")
async def live(pg, broker, mint):
    url = await fresh_database(pg, "subsidy")
    settings = SubsidySettings(database_url=url, kafka_bootstrap_servers=broker.bootstrap,
                               auth_jwks_json=mint.jwks_json, env="test", run_relay=False)
    async with running_app(create_app(settings)) as c:
        yield c


async def test_events_from_the_broker_make_a_worker_eligible(live, broker, mint):
    worker = uuid.uuid4()
    build = Events
    assistant = uuid.uuid4()
    stream = [*(build.month(worker, f"2023-{m:02d}") for m in range(1, 13)),
              *(build.month(worker, f"2024-{m:02d}") for m in range(1, 7)),
              build.registration(worker, date(2023, 3, 10)),
              build.revoke(worker, assistant, date(2024, 3, 5)),  # arrives before its issue
              build.certificate(worker, "assistant", date(2023, 6, 15), assistant),
              build.certificate(worker, "intermediate", date(2024, 1, 20))]
    producer = make_producer(broker.bootstrap, client_id="subsidy-test")
    await producer.start()
    try:
        for event in [*stream, stream[0]]:  # the first event is delivered twice
            await producer.send_and_wait(TOPICS[EventType(event.type)],
                                         json.dumps(event.model_dump(mode="json")).encode(),
                                         key=str(worker).encode())
    finally:
        await producer.stop()
    headers = mint.headers("social_worker", worker_id=worker)

    async def payable():
        response = await live.get(f"/v1/workers/{worker}/eligibility",
                                  params={"policy": POLICY, "through": "2024-06"}, headers=headers)
        body = response.json()
        return body if response.status_code == 200 and len(body["payable_months"]) == 7 else None

    body = await eventually(payable, timeout=90)
    assert [(m["month"], m["amount_fen"]) for m in body["payable_months"]] == [
        ("2023-12", 30000), ("2024-01", 30000), ("2024-02", 50000), ("2024-03", 50000), ("2024-04", 50000),
        ("2024-05", 50000), ("2024-06", 50000)]
    consumer = live.app.state.consumer
    await eventually(lambda: consumer.duplicates >= 1, timeout=30)
    # The session's broker also carries other tests' garbage on these topics (dead-lettered, rightly);
    # none of this worker's events may be among the dead letters.
    async with live.app.state.engine.connect() as conn:
        dead = (await conn.execute(text("SELECT count(*) FROM dead_letters WHERE payload LIKE :w"),
                                   {"w": f"%{worker}%"})).scalar()
    assert dead == 0
