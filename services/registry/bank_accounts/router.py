"""HTTP routes of workers' bank accounts: ask for a change, confirm or reject it, the history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.registry.bank_accounts import service
from services.registry.bank_accounts.models import BankAccount
from services.registry.bank_accounts.schemas import BankAccountCreate, BankAccountDecision, BankAccountRead
from services.registry.deps import CipherDep
from services.registry.privacy.service import DisclosureDep, record_personal_data_access
from services.registry.workers import repository as workers
from shared.auth import CurrentPrincipal, Principal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(prefix="/v1", tags=["bank accounts"])
Params = Annotated[PageParams, Depends(page_params)]
FIELDS = ("bank_account",)


async def _views(session, principal: Principal, cipher, disclosure, accounts: list[BankAccount]) -> list[dict]:
    if disclosure.reveal:
        await record_personal_data_access(session=session, principal=principal,
                                          worker_ids=[a.worker_id for a in accounts], purpose=disclosure.purpose,
                                          action=disclosure.action, fields=FIELDS)
    return [service.to_read(a, cipher=cipher, reveal=disclosure.reveal) for a in accounts]


async def _decide(session, principal: Principal, cipher, disclosure, worker_id: uuid.UUID, account_id: uuid.UUID,
                  data: BankAccountDecision | None, *, confirm: bool) -> dict:
    """A bureau_admin's one decision on a pending change, shown as the caller may see it."""
    account = await service.decide(session=session, principal=principal, worker_id=worker_id, account_id=account_id,
                                   confirm=confirm, reason=data.reason if data else None)
    return (await _views(session, principal, cipher, disclosure, [account]))[0]


@router.post("/workers/{worker_id}/bank-accounts", status_code=201, response_model=BankAccountRead,
             dependencies=[allow(*service.REQUESTERS)])
async def submit_bank_account(worker_id: uuid.UUID, data: BankAccountCreate, session: SessionDep,
                              principal: CurrentPrincipal, cipher: CipherDep, disclosure: DisclosureDep):
    """The account the worker is paid into (the holder must be the worker). By a bureau_admin: `verified` at
    once. By an HR system, the worker's station manager or the worker: `pending` until a bureau_admin confirms
    it. Every change is kept (`GET .../bank-accounts`)."""
    account = await service.submit(session=session, principal=principal, cipher=cipher, worker_id=worker_id,
                                   data=data)
    return (await _views(session, principal, cipher, disclosure, [account]))[0]


@router.get("/workers/{worker_id}/bank-accounts", response_model=Page[BankAccountRead])
async def list_bank_accounts(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                             cipher: CipherDep, disclosure: DisclosureDep, params: Params):
    """Every account and change of the worker (verified, pending, superseded, rejected), oldest first."""
    await workers.get_readable(session, principal, worker_id)
    items, cursor = await paginate(session, service.history_statement(principal, worker_id), params,
                                   keys=[BankAccount.created_at, BankAccount.id])
    return {"items": await _views(session, principal, cipher, disclosure, items), "next_cursor": cursor}


@router.get("/bank-account-changes", response_model=Page[BankAccountRead],
            dependencies=[allow(Role.BUREAU_ADMIN, Role.AUDITOR)])
async def list_pending_bank_accounts(session: SessionDep, principal: CurrentPrincipal, cipher: CipherDep,
                                     disclosure: DisclosureDep, params: Params):
    """Changes of account waiting for a bureau_admin, oldest first."""
    items, cursor = await paginate(session, service.pending_statement(), params,
                                   keys=[BankAccount.created_at, BankAccount.id])
    return {"items": await _views(session, principal, cipher, disclosure, items), "next_cursor": cursor}


@router.post("/workers/{worker_id}/bank-accounts/{account_id}/confirm", response_model=BankAccountRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def confirm_bank_account(worker_id: uuid.UUID, account_id: uuid.UUID, session: SessionDep,
                               principal: CurrentPrincipal, cipher: CipherDep, disclosure: DisclosureDep,
                               data: BankAccountDecision | None = None):
    """bureau_admin: the pending change becomes the account in use (the previous one is superseded)."""
    return await _decide(session, principal, cipher, disclosure, worker_id, account_id, data, confirm=True)


@router.post("/workers/{worker_id}/bank-accounts/{account_id}/reject", response_model=BankAccountRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def reject_bank_account(worker_id: uuid.UUID, account_id: uuid.UUID, session: SessionDep,
                              principal: CurrentPrincipal, cipher: CipherDep, disclosure: DisclosureDep,
                              data: BankAccountDecision | None = None):
    return await _decide(session, principal, cipher, disclosure, worker_id, account_id, data, confirm=False)
