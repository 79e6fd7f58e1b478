"""The registry's events, built from the shared contracts."""

from __future__ import annotations

import uuid
from datetime import date

from shared.contracts.events import (
    CertificateIssued,
    CertificateRevoked,
    EventType,
    WorkerRegistrationChanged,
    make_event,
)
from shared.events.envelope import CloudEvent

SOURCE = "registry"


def certificate_issued(*, certificate_id: uuid.UUID, worker_id: uuid.UUID, level: str, certificate_no: str,
                       obtained_on: date) -> CloudEvent:
    return make_event(EventType.CERTIFICATE_ISSUED, CertificateIssued(
        certificate_id=certificate_id, worker_id=worker_id, level=level, certificate_no=certificate_no,
        obtained_on=obtained_on), source=SOURCE)


def certificate_revoked(*, certificate_id: uuid.UUID, worker_id: uuid.UUID, revoked_on: date,
                        reason: str) -> CloudEvent:
    return make_event(EventType.CERTIFICATE_REVOKED, CertificateRevoked(
        certificate_id=certificate_id, worker_id=worker_id, revoked_on=revoked_on, reason=reason), source=SOURCE)


def registration_changed(worker_id: uuid.UUID, registered_on: date | None, division_code: str | None) -> CloudEvent:
    return make_event(EventType.WORKER_REGISTRATION_CHANGED, WorkerRegistrationChanged(
        worker_id=worker_id, registered_on=registered_on, division_code=division_code), source=SOURCE)
