"""The platform's events: types, data schemas (producers build them, consumers parse them) and topics."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.events.envelope import CloudEvent, dlq_topic


class EventType(StrEnum):
    CERTIFICATE_ISSUED = "socialwork.registry.certificate-issued.v1"
    CERTIFICATE_REVOKED = "socialwork.registry.certificate-revoked.v1"
    WORKER_REGISTRATION_CHANGED = "socialwork.registry.worker-registration-changed.v1"
    SERVICE_MONTH = "socialwork.projects.service-month.v1"


# One topic per event type; the message key is the worker id (ordering per worker).
TOPICS: dict[str, str] = {
    EventType.CERTIFICATE_ISSUED: "socialwork.certificate-issued",
    EventType.CERTIFICATE_REVOKED: "socialwork.certificate-revoked",
    EventType.WORKER_REGISTRATION_CHANGED: "socialwork.worker-registration-changed",
    EventType.SERVICE_MONTH: "socialwork.service-month",
}


def all_topics() -> list[str]:
    """Every topic the platform uses: the event topics and their dead-letter topics."""
    topics = list(TOPICS.values())
    return topics + [dlq_topic(t) for t in topics]


class CertificateIssued(BaseModel):
    """A national social-work certificate was recorded for a worker."""

    certificate_id: UUID
    worker_id: UUID
    level: Literal["assistant", "intermediate", "senior"] = Field(
        description="assistant 助理社会工作师, intermediate 社会工作师, senior 高级社会工作师")
    certificate_no: str
    obtained_on: date


class CertificateRevoked(BaseModel):
    """A certificate was revoked; it no longer covers months from the calendar month of `revoked_on`."""

    certificate_id: UUID
    worker_id: UUID
    revoked_on: date
    reason: str


class WorkerRegistrationChanged(BaseModel):
    """A worker's registration with the bureau was set or cleared."""

    worker_id: UUID
    registered_on: date | None
    division_code: str | None


class ServiceMonth(BaseModel):
    """A station's confirmed month of service for one worker; a higher `revision` replaces a lower one."""

    worker_id: UUID
    station_id: UUID
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    full_time: bool
    service_hours: float = Field(ge=0)
    revision: int = Field(ge=1)


EVENT_DATA: dict[EventType, type[BaseModel]] = {
    EventType.CERTIFICATE_ISSUED: CertificateIssued,
    EventType.CERTIFICATE_REVOKED: CertificateRevoked,
    EventType.WORKER_REGISTRATION_CHANGED: WorkerRegistrationChanged,
    EventType.SERVICE_MONTH: ServiceMonth,
}

# Which service emits each type (the CloudEvents `source`).
PRODUCERS: dict[EventType, str] = {
    EventType.CERTIFICATE_ISSUED: "registry",
    EventType.CERTIFICATE_REVOKED: "registry",
    EventType.WORKER_REGISTRATION_CHANGED: "registry",
    EventType.SERVICE_MONTH: "projects",
}


# Which services consume each type (their consumer group is the service name).
CONSUMERS: dict[EventType, tuple[str, ...]] = {t: ("subsidy",) for t in EventType}


def make_event(event_type: EventType, data: BaseModel, *, source: str) -> CloudEvent:
    expected = EVENT_DATA[event_type]
    if not isinstance(data, expected):
        raise TypeError(f"{event_type} carries {expected.__name__}, not {type(data).__name__}")
    worker_id = str(data.worker_id)
    return CloudEvent(source=source, type=event_type.value, subject=f"worker/{worker_id}",
                      partitionkey=worker_id, data=data.model_dump(mode="json"))
