"""The contracts live in shared/contracts and the generic event machinery is given them, never imports them."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import httpx
import pytest

from services.registry.app import create_app as registry_app
from shared.contracts import registry_internal as contract
from shared.contracts.events import TOPICS, EventType, ServiceMonth, make_event
from shared.errors import Unavailable
from shared.events.inbox import InboxConsumer
from shared.events.outbox import enqueue
from shared.registry_client import RegistryClient

GENERIC = Path(__file__).parents[2] / "shared" / "events"


def test_generic_event_modules_import_no_contract():
    for module in GENERIC.glob("*.py"):
        imported = {node.module for node in ast.walk(ast.parse(module.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module}
        assert not any(name.startswith("shared.contracts") for name in imported), module.name


async def test_outbox_takes_the_topic_map_it_is_given():
    event = make_event(EventType.SERVICE_MONTH, ServiceMonth(
        worker_id=uuid.uuid4(), station_id=uuid.uuid4(), month="2026-11", full_time=True, service_hours=1,
        revision=1), source="test")
    with pytest.raises(ValueError, match="no topic for event type 'socialwork.projects.service-month.v1'"):
        await enqueue(None, event, topics={})  # refused before anything is written


def test_inbox_subscribes_to_the_topics_of_its_handlers_in_the_map_it_is_given():
    async def handler(session, event) -> None:
        return None

    consumer = InboxConsumer(engine=None, bootstrap="127.0.0.1:1", service="t", handlers={"a.v1": handler},
                             topics={"a.v1": "custom.a", "b.v1": "custom.b"})
    assert consumer.topics == ["custom.a"]
    with pytest.raises(ValueError, match="no topic for event types"):
        InboxConsumer(engine=None, bootstrap="127.0.0.1:1", service="t", handlers={"c.v1": handler}, topics=TOPICS)


def test_registry_serves_the_internal_api_with_the_contract_models():
    spec = registry_app().openapi()
    body = spec["paths"][contract.PREFIX + contract.WORKERS_LOOKUP]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/WorkerLookupRequest"}
    assert spec["components"]["schemas"]["WorkerLookupRequest"]["properties"].keys() == \
        contract.WorkerLookupRequest.model_json_schema()["properties"].keys()
    answer = spec["paths"][contract.PREFIX + contract.EMPLOYMENT_CHECK]["post"]["responses"]["200"]["content"]
    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/EmploymentCheckResult"}


async def test_registry_client_sends_the_contract_and_refuses_an_answer_off_it():
    seen = []

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith(contract.WORKERS_LOOKUP):
            return httpx.Response(200, json={"items": [{"id": "not-a-uuid", "name": "秦建"}]})
        return httpx.Response(200, json={"station_id": str(uuid.uuid4()), "month": "2026-11",
                                         "employed": [], "not_employed": []})

    async def token() -> str:
        return "t"

    client = RegistryClient(base_url="http://registry", token_source=token, transport=httpx.MockTransport(registry))
    try:
        worker = uuid.uuid4()
        check = await client.employment_check(station_id=uuid.uuid4(), month="2026-11", worker_ids=[worker])
        assert check is not None and check.employed == frozenset()
        sent = contract.EmploymentCheckRequest.model_validate_json(seen[0].content)
        assert seen[0].url.path == "/v1/internal/employment-check" and sent.worker_ids == [worker]
        with pytest.raises(Unavailable, match="off contract"):
            await client.lookup_workers([worker])
    finally:
        await client.aclose()
