"""Worker rules: the ID number is validated, unique (by its keyed hash), stored encrypted and shown masked."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.crypto import PersonalDataCipher
from services.registry.employments import service as employments
from services.registry.events import registration_changed
from services.registry.workers import repository
from services.registry.workers.models import Honour, Training, Worker
from services.registry.workers.schemas import (
    HonourCreate,
    RegistrationCreate,
    TrainingCreate,
    WorkerCreate,
    WorkerUpdate,
)
from shared.auth import Principal, Role
from shared.contracts.events import TOPICS
from shared.errors import Conflict, Invalid, NotPermitted
from shared.events.outbox import enqueue
from shared.validators import birth_date_from_id_number, gender_from_id_number


def view_of(values, *, cipher: PersonalDataCipher, reveal: bool) -> dict:
    """The API view of a worker from its values in `repository.VIEW` order (plus `CIPHERTEXTS` when `reveal`):
    masked unless `reveal` (a bureau_admin unmasking with a purpose, recorded); only then is anything decrypted.
    A tuple, not attribute look-ups: a page is 50 of them."""
    (worker_id, name, gender, birth_date, id_number, phone, education, political_status, full_time, notes,
     registered_on, division_code, created_at, updated_at, *ciphertexts) = values
    if reveal:
        id_number_enc, phone_enc = ciphertexts
        id_number, phone = cipher.decrypt(id_number_enc), cipher.decrypt(phone_enc) if phone_enc else None
    return {  # the id as text: asyncpg's own UUID type costs pydantic's JSON encoder 2 us each (page_response)
        "id": str(worker_id), "name": name, "gender": gender, "birth_date": birth_date if reveal else None,
        "birth_year": birth_date.year, "id_number": id_number, "phone": phone, "education": education,
        "political_status": political_status, "full_time": full_time, "notes": notes, "registered_on": registered_on,
        "registration_division_code": division_code, "created_at": created_at, "updated_at": updated_at,
    }


def to_read(worker: Worker, *, cipher: PersonalDataCipher, reveal: bool) -> dict:
    """`view_of` a worker loaded as an ORM object."""
    columns = repository.VIEW + (repository.CIPHERTEXTS if reveal else ())
    return view_of(tuple(getattr(worker, c.key) for c in columns), cipher=cipher, reveal=reveal)


async def create_worker(*, session: AsyncSession, principal: Principal, cipher: PersonalDataCipher,
                        data: WorkerCreate) -> Worker:
    principal.require(*repository.WRITERS)
    if not principal.has_any(Role.BUREAU_ADMIN, Role.HR_SYSTEM):
        if data.employment is None or data.employment.station_id not in principal.station_ids:
            raise NotPermitted("a station manager creates workers employed at their own stations only")
    derived_birth = birth_date_from_id_number(data.id_number)
    if data.birth_date is not None and data.birth_date != derived_birth:
        raise Invalid(f"birth date does not match the ID number ({derived_birth.isoformat()})", field="birth_date")
    derived_gender = gender_from_id_number(data.id_number)
    if data.gender is not None and data.gender != derived_gender:
        raise Invalid("gender does not match the ID number", field="gender")
    lookup = cipher.lookup_hash(data.id_number)
    if (await session.execute(select(Worker.id).where(Worker.id_number_hash == lookup))).first():
        raise Conflict("a worker with this ID number exists", field="id_number")
    worker = Worker(
        id=uuid.uuid4(), name=data.name, gender=derived_gender, birth_date=derived_birth,
        **cipher.id_number_columns(data.id_number), **cipher.phone_columns(data.phone), education=data.education,
        political_status=data.political_status, full_time=data.full_time, notes=data.notes)
    session.add(worker)
    try:
        await session.flush()
    except IntegrityError:  # created concurrently by another request
        raise Conflict("a worker with this ID number exists", field="id_number") from None
    if data.employment is not None:
        await employments.add_employment(session=session, principal=principal, worker_id=worker.id,
                                         data=data.employment)
    await session.refresh(worker)
    return worker


async def update_worker(*, session: AsyncSession, principal: Principal, cipher: PersonalDataCipher,
                        worker_id: uuid.UUID, data: WorkerUpdate) -> Worker:
    worker = await repository.get_writable(session, principal, worker_id)
    changes = data.model_dump(exclude_unset=True)
    if "phone" in changes:
        for name, value in cipher.phone_columns(changes.pop("phone")).items():
            setattr(worker, name, value)
    for name, value in changes.items():
        if value is None and name in ("name", "full_time"):
            raise Invalid(f"{name} cannot be empty", field=name)
        setattr(worker, name, value)
    worker.updated_at = func.now()
    await session.flush()
    await session.refresh(worker)
    return worker


async def register(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID,
                   data: RegistrationCreate) -> Worker:
    """Registration with the bureau is the bureau's act: bureau_admin only."""
    principal.require(Role.BUREAU_ADMIN)
    worker = await repository.get_writable(session, principal, worker_id)
    worker.registered_on = data.registered_on
    worker.registration_division_code = data.division_code
    worker.updated_at = func.now()
    await enqueue(session, registration_changed(worker.id, data.registered_on, data.division_code), topics=TOPICS)
    await session.flush()
    await session.refresh(worker)
    return worker


async def add_training(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID,
                       data: TrainingCreate) -> Training:
    await repository.get_writable(session, principal, worker_id)
    training = Training(worker_id=worker_id, **data.model_dump())
    session.add(training)
    await session.flush()
    return training


async def add_honour(*, session: AsyncSession, principal: Principal, worker_id: uuid.UUID,
                     data: HonourCreate) -> Honour:
    await repository.get_writable(session, principal, worker_id)
    honour = Honour(worker_id=worker_id, **data.model_dump())
    session.add(honour)
    await session.flush()
    return honour
