"""HTTP routes for workers, their bureau registration, trainings and honours."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from services.registry.deps import CipherDep, query_model
from services.registry.privacy.service import DisclosureDep, disclosure_of, record_personal_data_access
from services.registry.workers import repository, service
from services.registry.workers.models import Honour, Training, Worker
from services.registry.workers.repository import WRITERS
from services.registry.workers.schemas import (
    HonourCreate,
    HonourRead,
    RegistrationCreate,
    TrainingCreate,
    TrainingRead,
    WorkerCreate,
    WorkerListQuery,
    WorkerRead,
    WorkerUpdate,
)
from shared.auth import CurrentPrincipal, Principal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, page_response, paginate

router = APIRouter(prefix="/v1", tags=["workers"])
Params = Annotated[PageParams, Depends(page_params)]


async def _views(session, principal: Principal, cipher, disclosure, workers: list[Worker]) -> list[dict]:
    """The workers as this request may see them; an unmasked look is recorded in the same transaction."""
    await _record_look(session, principal, disclosure, [w.id for w in workers])
    return [service.to_read(w, cipher=cipher, reveal=disclosure.reveal) for w in workers]


async def _record_look(session, principal: Principal, disclosure, worker_ids: list[uuid.UUID]) -> None:
    if disclosure.reveal:
        await record_personal_data_access(session=session, principal=principal, worker_ids=worker_ids,
                                          purpose=disclosure.purpose, action=disclosure.action)


@router.post("/workers", status_code=201, response_model=WorkerRead,
             dependencies=[allow(*WRITERS)])
async def create_worker(data: WorkerCreate, session: SessionDep, principal: CurrentPrincipal, cipher: CipherDep,
                        disclosure: DisclosureDep):
    """Add a person to the talent database (社工人才信息库)."""
    worker = await service.create_worker(session=session, principal=principal, cipher=cipher, data=data)
    return (await _views(session, principal, cipher, disclosure, [worker]))[0]


ListQuery, LIST_QUERY_DOCS = query_model(WorkerListQuery)


@router.get("/workers", response_model=Page[WorkerRead], openapi_extra=LIST_QUERY_DOCS)
async def list_workers(request: Request, principal: CurrentPrincipal, query: ListQuery):
    """Workers the caller may see; `level` keeps holders of a valid certificate of that level. One query per
    page and nothing decrypted, unless a bureau_admin unmasks."""
    disclosure = disclosure_of(request, principal, unmask=query.unmask, purpose=query.purpose)
    params = query.page
    stmt = repository.list_statement(principal, reveal=disclosure.reveal, station_id=query.station_id,
                                     level=query.level.value if query.level else None, registered=query.registered,
                                     q=query.q)
    keys = [Worker.created_at, Worker.id]
    if not disclosure.reveal:  # one statement, no transaction: the read engine (shared.db.read_once)
        rows, cursor = await paginate(request.app.state.read_engine, stmt, params, keys=keys)
    else:  # the look is recorded in the transaction that reads (SessionDep's way: committed before answering)
        async with request.app.state.sessionmaker.begin() as session:
            rows, cursor = await paginate(session, stmt, params, keys=keys)
            await _record_look(session, principal, disclosure, [row[0] for row in rows])
    cipher = request.app.state.cipher  # the page's bytes made here: see page_response
    return page_response([service.view_of(row, cipher=cipher, reveal=disclosure.reveal) for row in rows], cursor)


@router.get("/workers/{worker_id}", response_model=WorkerRead)
async def get_worker(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, cipher: CipherDep,
                     disclosure: DisclosureDep):
    worker = await repository.get_readable(session, principal, worker_id)
    return (await _views(session, principal, cipher, disclosure, [worker]))[0]


@router.patch("/workers/{worker_id}", response_model=WorkerRead,
             dependencies=[allow(*WRITERS)])
async def update_worker(worker_id: uuid.UUID, data: WorkerUpdate, session: SessionDep, principal: CurrentPrincipal,
                        cipher: CipherDep, disclosure: DisclosureDep):
    """Change a person's record (bureau_admin, hr_system, or the manager of a station employing them)."""
    worker = await service.update_worker(session=session, principal=principal, cipher=cipher, worker_id=worker_id,
                                         data=data)
    return (await _views(session, principal, cipher, disclosure, [worker]))[0]


@router.post("/workers/{worker_id}/registration", response_model=WorkerRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def register_worker(worker_id: uuid.UUID, data: RegistrationCreate, session: SessionDep,
                          principal: CurrentPrincipal, cipher: CipherDep, disclosure: DisclosureDep):
    """Record registration with the bureau; emits worker-registration-changed."""
    worker = await service.register(session=session, principal=principal, worker_id=worker_id, data=data)
    return (await _views(session, principal, cipher, disclosure, [worker]))[0]


@router.post("/workers/{worker_id}/trainings", status_code=201, response_model=TrainingRead,
             dependencies=[allow(*WRITERS)])
async def create_training(worker_id: uuid.UUID, data: TrainingCreate, session: SessionDep,
                          principal: CurrentPrincipal):
    return await service.add_training(session=session, principal=principal, worker_id=worker_id, data=data)


@router.get("/workers/{worker_id}/trainings", response_model=Page[TrainingRead])
async def list_trainings(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, params: Params):
    await repository.get_readable(session, principal, worker_id)
    stmt = select(Training).where(Training.worker_id == worker_id)
    items, cursor = await paginate(session, stmt, params, keys=[Training.created_at, Training.id])
    return {"items": items, "next_cursor": cursor}


@router.post("/workers/{worker_id}/honours", status_code=201, response_model=HonourRead,
             dependencies=[allow(*WRITERS)])
async def create_honour(worker_id: uuid.UUID, data: HonourCreate, session: SessionDep, principal: CurrentPrincipal):
    return await service.add_honour(session=session, principal=principal, worker_id=worker_id, data=data)


@router.get("/workers/{worker_id}/honours", response_model=Page[HonourRead])
async def list_honours(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, params: Params):
    await repository.get_readable(session, principal, worker_id)
    stmt = select(Honour).where(Honour.worker_id == worker_id)
    items, cursor = await paginate(session, stmt, params, keys=[Honour.created_at, Honour.id])
    return {"items": items, "next_cursor": cursor}
