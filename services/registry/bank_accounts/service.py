"""Bank account rules.

- The holder name must be the worker's name (422 naming `holder_name` otherwise): the bank pays by name and
  account, so an account in another person's name is never recorded.
- Recorded by a bureau_admin: `verified` at once (the previous verified account becomes `superseded`).
  Recorded by anyone else who may change the worker (an HR system, the worker's station manager, the worker
  themselves): `pending` until a bureau_admin confirms or rejects it (a conditional update: a second decision
  gets 409). A newer pending change supersedes an older one. Every row is kept: the history is the table.
- The number is stored encrypted (AES-GCM, the ID numbers' key) and shown as `6222 **** **** 1234` unless a
  bureau_admin unmasks with a purpose (recorded in `personal_data_access`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.bank_accounts.models import BankAccount
from services.registry.bank_accounts.schemas import BankAccountCreate, mask_account_number, normalize_name
from services.registry.crypto import PersonalDataCipher
from services.registry.workers import repository as workers
from services.registry.workers.models import Worker
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid, NotFound, NotPermitted

# Who may ask for a change at all (403 for anyone else); which workers is decided in `_changeable`.
REQUESTERS = (*workers.WRITERS, Role.SOCIAL_WORKER)


def number_columns(cipher: PersonalDataCipher, number: str) -> dict[str, bytes | str]:
    """What is stored of an account number: the ciphertext, and the masked form lists show without decrypting."""
    return {"account_enc": cipher.encrypt(number), "account_masked": mask_account_number(number)}


def to_read(account: BankAccount, *, cipher: PersonalDataCipher, reveal: bool) -> dict:
    """Masked unless `reveal` (a bureau_admin unmasking with a purpose, recorded); only then decrypted."""
    return {"id": account.id, "worker_id": account.worker_id, "bank_name": account.bank_name,
            "account_number": cipher.decrypt(account.account_enc) if reveal else account.account_masked,
            "holder_name": account.holder_name, "status": account.status, "recorded_by": account.recorded_by,
            "decided_by": account.decided_by, "decided_at": account.decided_at,
            "decision_reason": account.decision_reason, "created_at": account.created_at}


def _changeable(principal: Principal) -> ColumnElement[bool]:
    """Workers whose account this caller may change: those it may write, and a social worker themselves."""
    clauses = []
    if principal.has_any(*workers.WRITERS):
        clauses.append(workers.writable_workers(principal))
    if principal.has_any(Role.SOCIAL_WORKER) and principal.worker_id is not None:
        clauses.append(Worker.id == principal.worker_id)
    return or_(*clauses) if clauses else false()


async def submit(*, session: AsyncSession, principal: Principal, cipher: PersonalDataCipher, worker_id: uuid.UUID,
                 data: BankAccountCreate) -> BankAccount:
    principal.require(*REQUESTERS)
    # The worker row is locked: two changes of one worker's account are applied one after the other.
    worker = (await session.execute(select(Worker).where(Worker.id == worker_id, _changeable(principal))
                                    .with_for_update())).scalar_one_or_none()
    if worker is None:
        raise NotFound(f"worker {worker_id} not found")
    if data.holder_name != normalize_name(worker.name):
        raise Invalid("the account holder name must be the worker's name as recorded in the registry",
                      field="holder_name")
    by_bureau = principal.is_admin
    superseded = ("pending", "verified") if by_bureau else ("pending",)
    await session.execute(update(BankAccount).where(BankAccount.worker_id == worker_id,
                                                    BankAccount.status.in_(superseded))
                          .values(status="superseded").execution_options(synchronize_session=False))
    account = BankAccount(id=uuid.uuid4(), worker_id=worker_id, bank_name=data.bank_name,
                          **number_columns(cipher, data.account_number), holder_name=data.holder_name,
                          status="verified" if by_bureau else "pending", recorded_by=principal.subject,
                          recorded_roles=",".join(sorted(principal.roles)))
    if by_bureau:
        account.decided_by, account.decided_at = principal.subject, func.now()
    session.add(account)
    await session.flush()
    await session.refresh(account)
    return account


async def decide(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID, account_id: uuid.UUID,
                 confirm: bool, reason: str | None) -> BankAccount:
    """A bureau_admin (not the one who asked) confirms a pending change (it becomes the account in use) or
    rejects it; a conditional update, so two decisions cannot both win."""
    principal.require(Role.BUREAU_ADMIN)
    worker = (await session.execute(select(Worker).where(Worker.id == worker_id).with_for_update())
              ).scalar_one_or_none()
    account = await session.scalar(select(BankAccount).where(BankAccount.id == account_id,
                                                             BankAccount.worker_id == worker_id))
    if worker is None or account is None:
        raise NotFound(f"bank account {account_id} not found")
    if account.recorded_by == principal.subject:
        raise NotPermitted("a change of bank account is decided by a bureau_admin other than who asked for it")
    if confirm and account.holder_name != normalize_name(worker.name):
        raise Invalid("the account holder name is no longer the worker's name; ask for a new change",
                      field="holder_name")
    if confirm:
        await session.execute(update(BankAccount).where(BankAccount.worker_id == worker_id,
                                                        BankAccount.status == "verified")
                              .values(status="superseded").execution_options(synchronize_session=False))
    result = await session.execute(
        update(BankAccount).where(BankAccount.id == account_id, BankAccount.status == "pending")
        .values(status="verified" if confirm else "rejected", decided_by=principal.subject, decided_at=func.now(),
                decision_reason=reason).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"the change is not pending any more ({account.status})", field="account_id")
    await session.refresh(account)
    return account


def history_statement(principal: Principal, worker_id: uuid.UUID):
    """Every account of the worker (readable workers only)."""
    return (select(BankAccount).join(Worker, Worker.id == BankAccount.worker_id)
            .where(BankAccount.worker_id == worker_id, workers.readable_workers(principal)))


def pending_statement():
    return select(BankAccount).where(BankAccount.status == "pending")


async def payees(session: AsyncSession, cipher: PersonalDataCipher, worker_ids: list[uuid.UUID],
                 account_ids: list[uuid.UUID] | None = None) -> tuple[list[dict], list[uuid.UUID]]:
    """Clear ID number and account of each worker: their verified account whose holder is still the worker's name,
    or, with `account_ids`, exactly those account rows of those workers (whatever their status now); and the
    asked workers without one."""
    if account_ids is not None:
        if len(account_ids) != len(worker_ids):
            raise Invalid("account_ids must pair with worker_ids, one each", field="account_ids")
        wanted = set(zip(worker_ids, account_ids, strict=True))
        clause = BankAccount.id.in_(account_ids)
    else:
        clause = BankAccount.status == "verified"
    rows = (await session.execute(select(Worker, BankAccount).join(BankAccount, BankAccount.worker_id == Worker.id)
                                  .where(Worker.id.in_(worker_ids), clause))).all()
    found = {}
    for worker, account in rows:
        if account_ids is not None and (worker.id, account.id) not in wanted:
            continue
        if account_ids is None and account.holder_name != normalize_name(worker.name):
            continue
        found[worker.id] = {"id": worker.id, "name": account.holder_name,
                            "id_number": cipher.decrypt(worker.id_number_enc), "bank_name": account.bank_name,
                            "account_number": cipher.decrypt(account.account_enc),
                            "holder_name": account.holder_name, "account_id": account.id}
    asked = list(dict.fromkeys(worker_ids))
    return [found[w] for w in asked if w in found], [w for w in asked if w not in found]


def masked_account_column():
    """The worker's verified account, masked, as a column of the worker's row (nothing decrypted)."""
    return (select(BankAccount.account_masked).where(BankAccount.worker_id == Worker.id,
                                                     BankAccount.status == "verified")
            .scalar_subquery().label("bank_account"))
