"""Fixtures of the subsidy tests: one migrated database and app per module, events applied through the inbox."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.subsidy.app import create_app
from services.subsidy.eligibility.rules import month_idx, month_str
from services.subsidy.facts.handlers import HANDLERS
from services.subsidy.settings import SubsidySettings
from shared.contracts.events import (
    TOPICS,
    CertificateIssued,
    CertificateRevoked,
    EventType,
    ServiceMonth,
    WorkerRegistrationChanged,
    make_event,
)
from shared.db import make_sessionmaker
from shared.events.envelope import CloudEvent
from shared.events.inbox import InboxConsumer
from tests.support import fresh_database, running_app

POLICY = "otog-talent-subsidy"
STATION = uuid.UUID("00000000-0000-4000-8000-000000000001")


@dataclass
class Record:
    """What the inbox reads from a Kafka record (the consumer's own code path, without the broker)."""

    topic: str
    value: bytes
    key: bytes
    partition: int = 0
    offset: int = 0


class Events:
    """Builds the registry's and projects' events and applies them through the real inbox code."""

    def __init__(self, app):
        self.app = app
        self.inbox = InboxConsumer(engine=app.state.engine, bootstrap="127.0.0.1:1", service="subsidy",
                                   handlers=HANDLERS, topics=TOPICS)

    async def deliver(self, *events: CloudEvent) -> None:
        async with make_sessionmaker(self.app.state.engine)() as session, session.begin():
            for i, event in enumerate(events):
                await self.inbox.handle_record(session, Record(
                    topic=TOPICS[EventType(event.type)], value=json.dumps(event.model_dump(mode="json")).encode(),
                    key=event.partitionkey.encode(), offset=i))

    @staticmethod
    def certificate(worker_id, level, obtained_on: date, certificate_id=None) -> CloudEvent:
        return make_event(EventType.CERTIFICATE_ISSUED, CertificateIssued(
            certificate_id=certificate_id or uuid.uuid4(), worker_id=worker_id, level=level,
            certificate_no=f"NO-{uuid.uuid4().hex[:8]}", obtained_on=obtained_on), source="test-registry")

    @staticmethod
    def revoke(worker_id, certificate_id, revoked_on: date) -> CloudEvent:
        return make_event(EventType.CERTIFICATE_REVOKED, CertificateRevoked(
            certificate_id=certificate_id, worker_id=worker_id, revoked_on=revoked_on, reason="test"),
            source="test-registry")

    @staticmethod
    def registration(worker_id, registered_on: date | None, division="150624", at: datetime | None = None):
        event = make_event(EventType.WORKER_REGISTRATION_CHANGED, WorkerRegistrationChanged(
            worker_id=worker_id, registered_on=registered_on, division_code=division), source="test-registry")
        if at is not None:
            event.time = at
        return event

    @staticmethod
    def month(worker_id, month: str, full_time=True, revision=1, station_id=STATION) -> CloudEvent:
        return make_event(EventType.SERVICE_MONTH, ServiceMonth(
            worker_id=worker_id, station_id=station_id, month=month, full_time=full_time,
            service_hours=168.0 if full_time else 40.0, revision=revision), source="test-projects")

    def months(self, worker_id, first: str, last: str, skip=(), station_id=STATION) -> list[CloudEvent]:
        return [self.month(worker_id, month_str(m), station_id=station_id)
                for m in range(month_idx(first), month_idx(last) + 1) if month_str(m) not in skip]

    async def worked_example(self, worker_id, *, through="2027-06", station_id=STATION) -> dict:
        """The worked example of the subsidy rules (README.md, "Design"): full-time from 2023-01, registered
        2023-03, assistant 2023-06-15, intermediate 2024-11-20."""
        assistant, intermediate = uuid.uuid4(), uuid.uuid4()
        await self.deliver(
            *self.months(worker_id, "2023-01", through, station_id=station_id),
            self.registration(worker_id, date(2023, 3, 10)),
            self.certificate(worker_id, "assistant", date(2023, 6, 15), assistant),
            self.certificate(worker_id, "intermediate", date(2024, 11, 20), intermediate))
        return {"assistant": assistant, "intermediate": intermediate}


@pytest.fixture(scope="module")
async def client(pg, mint):
    url = await fresh_database(pg, "subsidy")
    settings = SubsidySettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:1",
                               auth_jwks_json=mint.jwks_json, env="test", run_relay=False, run_consumer=False)
    async with running_app(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def events(client) -> Events:
    return Events(client.app)


@pytest.fixture
def admin(mint):
    return mint.headers("bureau_admin", sub=f"admin-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def reviewer(mint):
    return mint.headers("bureau_admin", sub=f"reviewer-{uuid.uuid4().hex[:6]}")


async def new_policy(client, code: str | None = None, **overrides) -> str:
    """A policy of its own for a test (a copy of the default), so batches of other tests stay apart."""
    code = code or f"test-{uuid.uuid4().hex[:8]}"
    values = {"name": "test policy", "division_code": "150624", "certificates_from": date(2023, 1, 1),
              "rate_senior_fen": 100000, "rate_intermediate_fen": 50000, "rate_assistant_fen": 30000,
              "qualifying_months": 12, "cap_months": 36, "effective_from": date(2023, 1, 1), **overrides}
    async with client.app.state.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO policies (id, code, version, name, division_code, certificates_from, rate_senior_fen, "
            "rate_intermediate_fen, rate_assistant_fen, qualifying_months, cap_months, effective_from) VALUES "
            "(:id, :code, 1, :name, :division_code, :certificates_from, :rate_senior_fen, :rate_intermediate_fen, "
            ":rate_assistant_fen, :qualifying_months, :cap_months, :effective_from)"),
            {"id": uuid.uuid4(), "code": code, **values})
    return code


async def approved(client, mint, worker_id, policy: str) -> dict:
    submitter = mint.headers("bureau_admin", sub=f"sub-{uuid.uuid4().hex[:6]}")
    reviewer = mint.headers("bureau_admin", sub=f"rev-{uuid.uuid4().hex[:6]}")
    response = await client.post("/v1/applications", json={"worker_id": str(worker_id), "policy": policy},
                                 headers=submitter)
    assert response.status_code == 201, response.text
    response = await client.post(f"/v1/applications/{response.json()['id']}/approve", headers=reviewer)
    assert response.status_code == 200, response.text
    return response.json()


async def all_lines(client, headers, batch_id) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/disbursements/{batch_id}/lines", params=params, headers=headers)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return items


def recent(seconds: int = 0) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
