"""The registry's internal API (role `service`, or bureau_admin): paths and bodies, for its server and clients.

The registry's router serves these paths with these models; `shared.registry_client` sends and parses them.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from shared.validators import MONTH_PATTERN

PREFIX = "/v1/internal"
STATION = "/stations/{station_id}"
EMPLOYMENT_CHECK = "/employment-check"
WORKERS_LOOKUP = "/workers/lookup"
PAYEES = "/workers/payees"
MAX_IDS = 10000  # per request; clients send larger sets in chunks


class InternalStation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    parent_id: uuid.UUID | None
    division_code: str
    star_rating: int | None


class EmploymentCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: uuid.UUID
    month: str = Field(pattern=MONTH_PATTERN)
    worker_ids: list[uuid.UUID] = Field(max_length=MAX_IDS)


class EmploymentCheckResult(BaseModel):
    """Every asked worker once, in the order asked: employed at the station on some day of the month, or not."""

    station_id: uuid.UUID
    month: str
    employed: list[uuid.UUID]
    not_employed: list[uuid.UUID]


class WorkerLookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_ids: list[uuid.UUID] = Field(max_length=MAX_IDS)


class WorkerLookupItem(BaseModel):
    id: uuid.UUID
    name: str
    id_number_masked: str
    phone_masked: str | None
    station_ids: list[uuid.UUID]
    bank_account: str | None = None


class WorkerLookupResult(BaseModel):
    """The known workers among those asked, in the order asked (unknown ids are left out)."""

    items: list[WorkerLookupItem]


class PayeeRequest(BaseModel):
    """Clear payee data for a bank file: only for the service clients the registry lists (`payee_clients`)."""

    model_config = ConfigDict(extra="forbid")

    worker_ids: list[uuid.UUID] = Field(max_length=MAX_IDS)
    account_ids: list[uuid.UUID] | None = Field(None, max_length=MAX_IDS, description=(
        "these account rows (whatever their status now: a released bank file is rendered again from the accounts "
        "it was released to) instead of each worker's verified account"))
    purpose: str = Field(min_length=1, max_length=500, description="recorded with every look, e.g. the batch")


class Payee(BaseModel):
    id: uuid.UUID
    name: str
    id_number: str
    bank_name: str
    account_number: str
    holder_name: str
    account_id: uuid.UUID


class PayeeResult(BaseModel):
    """Workers with a verified account held in their name, in the order asked; the others by id."""

    items: list[Payee]
    without_account: list[uuid.UUID]
