"""/asyncapi.json: valid AsyncAPI 3.0 (the official JSON Schema), every topic and dead-letter topic, and payload
schemas that are the producers' own models and accept the messages they really send."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT7

from services.gateway.asyncapi import build_asyncapi
from services.subsidy.facts.handlers import HANDLERS
from shared.contracts.events import CONSUMERS, EVENT_DATA, TOPICS, EventType, all_topics, make_event
from shared.events.envelope import STRUCTURED_CONTENT_TYPE, dlq_topic
from tests.shared.test_events import SAMPLE_DATA

SCHEMA = json.loads((Path(__file__).parent / "asyncapi-3.0.0.schema.json").read_text())


@pytest.fixture(scope="module")
async def document(platform):
    response = await platform["client"].get("/asyncapi.json")
    assert response.status_code == 200
    return response.json()


def resolve(document: dict, ref: str):
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [r for v in node.values()
                                                                              for r in refs(v)]
    return [r for v in node for r in refs(v)] if isinstance(node, list) else []


def test_valid_asyncapi_3_and_every_reference_resolves(document):
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    assert document["asyncapi"] == "3.0.0"
    for ref in refs(document):
        assert resolve(document, ref) is not None, ref
    broken = {**document, "channels": {"x": {"address": 5}}}
    assert list(jsonschema.Draft7Validator(SCHEMA).iter_errors(broken))  # the schema does reject


def test_every_topic_and_dead_letter_topic_with_key_headers_and_operations(document):
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(all_topics())
    operations = document["operations"].values()
    for event_type in EventType:
        channel = next(c for c in document["channels"].values() if c["address"] == TOPICS[event_type])
        (message_ref,) = channel["messages"].values()
        message = resolve(document, message_ref["$ref"])
        assert message["contentType"] == STRUCTURED_CONTENT_TYPE
        assert message["headers"]["properties"]["content-type"]["const"] == STRUCTURED_CONTENT_TYPE
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
        dead = next(c for c in document["channels"].values() if c["address"] == dlq_topic(TOPICS[event_type]))
        (dead_ref,) = dead["messages"].values()
        assert "dlq_error" in resolve(document, dead_ref["$ref"])["headers"]["required"]
        actions = {(op["action"], op["channel"]["$ref"]) for op in operations}
        own = "#/channels/" + next(k for k, c in document["channels"].items() if c is channel)
        assert ("send", own) in actions and ("receive", own) in actions
    # The consumers the document names are the ones that have handlers.
    assert {t for t, consumers in CONSUMERS.items() if "subsidy" in consumers} == set(HANDLERS)


def test_payload_schemas_are_the_producers_models_and_accept_what_they_send(document):
    schemas = document["components"]["schemas"]
    registry = Registry().with_resource("urn:asyncapi", DRAFT7.create_resource(document))
    for event_type, model in EVENT_DATA.items():
        assert schemas[model.__name__] == model.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization")
        channel = next(c for c in document["channels"].values() if c["address"] == TOPICS[event_type])
        message = resolve(document, next(iter(channel["messages"].values()))["$ref"])
        payload = {"$ref": "urn:asyncapi" + message["payload"]["$ref"]}
        validator = jsonschema.Draft7Validator(payload, registry=registry, format_checker=jsonschema.FormatChecker())
        event = make_event(event_type, model.model_validate(SAMPLE_DATA[event_type] | {"worker_id": uuid.uuid4()}),
                           source="test").model_dump(mode="json")
        validator.validate(event)
        assert not validator.is_valid({**event, "data": {k: v for k, v in event["data"].items() if k != "worker_id"}})
        assert not validator.is_valid({**event, "type": "socialwork.other.v1"})


def test_built_from_the_contracts_alone():
    """The gateway needs no broker or service to describe the topics."""
    assert build_asyncapi(bootstrap="kafka-1:9092,kafka-2:9092")["servers"]["broker"]["host"] == "kafka-1:9092"
