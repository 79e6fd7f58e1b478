"""Internal API for the other services (role `service`, or bureau_admin): stations, employment, look-up.

Paths and bodies are the contract in `shared.contracts.registry_internal`.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select

from services.registry.bank_accounts import service as bank_accounts
from services.registry.deps import CipherDep
from services.registry.employments import service as employments
from services.registry.privacy.service import record_personal_data_access
from services.registry.stations import repository as stations
from services.registry.workers import repository as workers
from services.registry.workers.models import Worker
from shared.auth import CurrentPrincipal, Role, allow
from shared.contracts import registry_internal as contract
from shared.db import SessionDep
from shared.errors import NotPermitted

router = APIRouter(prefix=contract.PREFIX, tags=["internal"], dependencies=[allow(Role.SERVICE, Role.BUREAU_ADMIN)])


@router.get(contract.STATION, response_model=contract.InternalStation)
async def internal_get_station(station_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await stations.get_station(session, station_id)


@router.post(contract.EMPLOYMENT_CHECK, response_model=contract.EmploymentCheckResult)
async def internal_employment_check(data: contract.EmploymentCheckRequest, session: SessionDep,
                                    principal: CurrentPrincipal):
    """Which workers had an employment at the station sharing any day with the month."""
    await stations.get_station(session, data.station_id)
    employed = await employments.employment_check(session=session, station_id=data.station_id, month=data.month,
                                                  worker_ids=data.worker_ids)
    unique = list(dict.fromkeys(data.worker_ids))
    return {"station_id": data.station_id, "month": data.month,
            "employed": [w for w in unique if w in employed], "not_employed": [w for w in unique if w not in employed]}


@router.post(contract.WORKERS_LOOKUP, response_model=contract.WorkerLookupResult)
async def internal_workers_lookup(data: contract.WorkerLookupRequest, session: SessionDep, principal: CurrentPrincipal):
    """Names and masked identifiers (ID number, phone, verified bank account) of the given workers (unknown ids
    are left out): one query, nothing decrypted."""
    ids = list(dict.fromkeys(data.worker_ids))
    rows = (await session.execute(select(
        Worker.id, Worker.name, Worker.id_number_masked, Worker.phone_masked, workers.station_ids_column(),
        bank_accounts.masked_account_column()).where(Worker.id.in_(ids)))).all()
    items = [{"id": w.id, "name": w.name, "id_number_masked": w.id_number_masked, "phone_masked": w.phone_masked,
              "station_ids": w.station_ids, "bank_account": w.bank_account} for w in rows]
    order = {w: i for i, w in enumerate(ids)}
    items.sort(key=lambda item: order[item["id"]])
    return {"items": items}


@router.post(contract.PAYEES, response_model=contract.PayeeResult)
async def internal_payees(data: contract.PayeeRequest, session: SessionDep, principal: CurrentPrincipal,
                          cipher: CipherDep, request: Request):
    """Clear names, ID numbers and verified bank accounts for a bank file: only a service client the registry
    lists in `payee_clients` (not a person, not bureau_admin: they download the bank file from the subsidy
    service). Every worker returned is recorded in `personal_data_access` with the purpose given."""
    allowed = request.app.state.settings.payee_clients
    if not principal.has_any(Role.SERVICE) or principal.client_id not in allowed:
        raise NotPermitted("payee data is only for the service clients the registry lists (payee_clients)")
    found, missing = await bank_accounts.payees(session, cipher, list(data.worker_ids), data.account_ids)
    await record_personal_data_access(session=session, principal=principal, worker_ids=[p["id"] for p in found],
                                      purpose=data.purpose, action=f"{request.method} {request.url.path}",
                                      fields=("name", "id_number", "bank_account"))
    return {"items": found, "without_account": missing}
