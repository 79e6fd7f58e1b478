"""The AsyncAPI 3.0 description of every topic, generated from the event contracts (`shared.contracts.events`).

Message payloads are the JSON Schemas of the same Pydantic models the producers build and the consumers parse,
inside the CloudEvents envelope the relay sends (Kafka binding, structured content mode).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, create_model

from shared.contracts.events import CONSUMERS, EVENT_DATA, PRODUCERS, TOPICS, EventType
from shared.events.envelope import STRUCTURED_CONTENT_TYPE, CloudEvent, dlq_topic

KAFKA_BINDING = "0.5.0"
REF = "#/components/schemas/{model}"
_KEY = {"type": "string", "format": "uuid", "description": "the worker id: every event of one worker is in order"}
_CONTENT_TYPE = {"type": "string", "const": STRUCTURED_CONTENT_TYPE,
                 "description": "CloudEvents Kafka binding, structured content mode (the whole event is the value)"}
_DLQ_HEADERS = {
    "dlq_error": "the handler's last error",
    "dlq_attempts": "how many times the consumer tried it",
    "dlq_original_topic": "the topic it was read from",
    "dlq_original_partition": "its partition there",
    "dlq_original_offset": "its offset there",
    "dlq_consumer_group": "the consumer group that gave up on it (redrive re-publishes only its own)",
}


class _Sent(CloudEvent):
    """The envelope as sent: every attribute with a default is always there (`subject` may be null)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


def _camel(event_type: EventType) -> str:
    """socialwork.registry.certificate-issued.v1 -> certificateIssued"""
    first, *rest = event_type.value.split(".")[2].split("-")
    return first + "".join(word.capitalize() for word in rest)


def _event_schemas(event_type: EventType) -> tuple[str, dict[str, Any]]:
    """The envelope with this type and data, as JSON Schemas keyed by component name."""
    data = EVENT_DATA[event_type]
    name = data.__name__ + "Event"
    model = create_model(name, __base__=_Sent, type=(Literal[event_type.value], ...), data=(data, ...))
    schema = model.model_json_schema(ref_template=REF, mode="serialization")
    defs = schema.pop("$defs", {})
    schema["title"] = name
    schema["description"] = f"CloudEvents 1.0 event `{event_type.value}` (`partitionkey` is the worker id)"
    return name, {name: schema, **defs}


def build_asyncapi(*, bootstrap: str) -> dict:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type in EventType:
        name = _camel(event_type)
        topic = TOPICS[event_type]
        schema_name, event_schemas = _event_schemas(event_type)
        schemas.update(event_schemas)
        messages[name] = {
            "name": event_type.value, "title": schema_name, "contentType": STRUCTURED_CONTENT_TYPE,
            "summary": EVENT_DATA[event_type].__doc__,
            "headers": {"type": "object", "required": ["content-type"], "properties": {
                "content-type": _CONTENT_TYPE,
                "dlq_redriven": {"type": "string", "const": "1", "description": "re-published from the dead letters"},
            }},
            "payload": {"$ref": REF.format(model=schema_name)},
            "bindings": {"kafka": {"key": _KEY, "bindingVersion": KAFKA_BINDING}},
        }
        messages[f"{name}DeadLetter"] = {
            "name": f"{event_type.value} (dead letter)", "title": f"{schema_name}DeadLetter",
            "summary": "A message the consumer could not handle after its retries, as it was read, with why.",
            "headers": {"type": "object", "required": list(_DLQ_HEADERS), "properties": {
                "content-type": {"type": "string", "description": "the original message's, when it had one"},
                **{header: {"type": "string", "description": text} for header, text in _DLQ_HEADERS.items()}}},
            "payload": {"description": f"the original message value (normally a `{schema_name}`)"},
            "bindings": {"kafka": {"key": _KEY, "bindingVersion": KAFKA_BINDING}},
        }
        for channel, address, message in ((name, topic, name), (f"{name}DeadLetters", dlq_topic(topic),
                                                                 f"{name}DeadLetter")):
            channels[channel] = {
                "address": address,
                "messages": {message: {"$ref": f"#/components/messages/{message}"}},
                "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING}},
            }
        own = {"$ref": f"#/channels/{name}"}
        own_message = [{"$ref": f"#/channels/{name}/messages/{name}"}]
        operations[f"{PRODUCERS[event_type]}Sends{name[0].upper()}{name[1:]}"] = {
            "action": "send", "channel": own, "messages": own_message,
            "summary": f"{PRODUCERS[event_type]} publishes it through its transactional outbox (acks=all)"}
        for consumer in CONSUMERS[event_type]:
            group = {"kafka": {"groupId": {"type": "string", "const": consumer}, "bindingVersion": KAFKA_BINDING}}
            operations[f"{consumer}Receives{name[0].upper()}{name[1:]}"] = {
                "action": "receive", "channel": own, "messages": own_message, "bindings": group,
                "summary": f"{consumer} applies it once through its inbox (the event id is the idempotency key)"}
            dead = {"$ref": f"#/channels/{name}DeadLetters"}
            operations[f"{consumer}DeadLetters{name[0].upper()}{name[1:]}"] = {
                "action": "send", "channel": dead, "bindings": group,
                "messages": [{"$ref": f"#/channels/{name}DeadLetters/messages/{name}DeadLetter"}],
                "summary": f"{consumer} sets aside what it cannot handle; `socialwork redrive-dlq` re-publishes it"}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Social-work platform events", "version": "1.0.0",
                 "description": "CloudEvents 1.0 over Kafka, one topic per event type, keyed by worker id; every "
                                "topic has a dead-letter topic `<topic>.dlq`."},
        "defaultContentType": STRUCTURED_CONTENT_TYPE,
        "servers": {"broker": {"host": bootstrap.split(",")[0].strip(), "protocol": "kafka",
                               "description": "KAFKA_BOOTSTRAP_SERVERS of this deployment"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
