"""CloudEvents 1.0 envelope, sent in the Kafka protocol binding's structured content mode.

The event types, their data and their topics are contracts: `shared.contracts.events`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# Structured mode: the whole event is the message value in the JSON event format, and this header says so
# (a reader that finds no such header must take the message for binary mode).
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


def structured_headers() -> list[tuple[str, bytes]]:
    """The Kafka headers of a structured-mode message (no ce_* headers: readers take those for binary mode)."""
    return [("content-type", STRUCTURED_CONTENT_TYPE.encode())]


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event; `id` is the idempotency key, `partitionkey` the worker id."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(default_factory=uuid.uuid4)
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    partitionkey: str
    data: dict[str, Any]
