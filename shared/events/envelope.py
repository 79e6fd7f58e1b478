"""CloudEvents 1.0 envelope (JSON structured mode) and the platform's event types and topics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    CERTIFICATE_ISSUED = "socialwork.registry.certificate-issued.v1"
    CERTIFICATE_REVOKED = "socialwork.registry.certificate-revoked.v1"
    WORKER_REGISTRATION_CHANGED = "socialwork.registry.worker-registration-changed.v1"
    SERVICE_MONTH = "socialwork.projects.service-month.v1"


TOPICS: dict[EventType, str] = {
    EventType.CERTIFICATE_ISSUED: "socialwork.certificate-issued",
    EventType.CERTIFICATE_REVOKED: "socialwork.certificate-revoked",
    EventType.WORKER_REGISTRATION_CHANGED: "socialwork.worker-registration-changed",
    EventType.SERVICE_MONTH: "socialwork.service-month",
}


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


# Event data, as documented in ARCHITECTURE.md; producers build them, consumers parse them.
class CertificateIssued(BaseModel):
    certificate_id: UUID
    worker_id: UUID
    level: Literal["assistant", "intermediate", "senior"]
    certificate_no: str
    obtained_on: date


class CertificateRevoked(BaseModel):
    certificate_id: UUID
    worker_id: UUID
    revoked_on: date
    reason: str


class WorkerRegistrationChanged(BaseModel):
    worker_id: UUID
    registered_on: date | None
    division_code: str | None


class ServiceMonth(BaseModel):
    worker_id: UUID
    station_id: UUID
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    full_time: bool
    service_hours: float = Field(ge=0)
    revision: int = Field(ge=1)


EVENT_DATA: dict[EventType, type[BaseModel]] = {
    EventType.CERTIFICATE_ISSUED: CertificateIssued,
    EventType.CERTIFICATE_REVOKED: CertificateRevoked,
    EventType.WORKER_REGISTRATION_CHANGED: WorkerRegistrationChanged,
    EventType.SERVICE_MONTH: ServiceMonth,
}


def make_event(event_type: EventType, data: BaseModel, *, source: str) -> CloudEvent:
    expected = EVENT_DATA[event_type]
    if not isinstance(data, expected):
        raise TypeError(f"{event_type} carries {expected.__name__}, not {type(data).__name__}")
    worker_id = str(data.worker_id)
    return CloudEvent(source=source, type=event_type.value, subject=f"worker/{worker_id}",
                      partitionkey=worker_id, data=data.model_dump(mode="json"))
