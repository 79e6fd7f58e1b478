"""Masking of personal data by role, unmasking with a stated purpose, and the record of every unmasked look.

Every role but bureau_admin, and bureau_admin too unless it asks with `unmask=true` and a `purpose`, gets the
masked view: the ID number as `150624**********17`, the phone as `133****1984` and the birth year instead of
the birth date (see `shared.validators.mask_id_number` for why nothing rebuilds the full number).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.privacy.models import PersonalDataAccess
from shared import audit
from shared.auth import CurrentPrincipal, Principal
from shared.logs import request_id_var

UNMASKED_FIELDS = ("id_number", "phone", "birth_date")


@dataclass(frozen=True)
class Disclosure:
    """What this request may see: `reveal` only for a bureau_admin who asked to unmask and said why."""

    reveal: bool
    purpose: str | None = None
    action: str = ""


UNMASK_HELP = "bureau_admin only, with a purpose: ID number, phone and birth date in full (recorded)"
PURPOSE_HELP = "why the data is unmasked (without it the view stays masked)"
PURPOSE_MAX = 500
UNMASK, PURPOSE = Query(description=UNMASK_HELP), Query(max_length=PURPOSE_MAX, description=PURPOSE_HELP)


async def disclosure(request: Request, principal: CurrentPrincipal, unmask: Annotated[bool, UNMASK] = False,
                     purpose: Annotated[str | None, PURPOSE] = None) -> Disclosure:
    return disclosure_of(request, principal, unmask=unmask, purpose=purpose)


def disclosure_of(request: Request, principal: Principal, *, unmask: bool, purpose: str | None) -> Disclosure:
    """What `unmask` and `purpose` of this request let `principal` see: for the `disclosure` dependency, and for
    the worker list, which reads its whole query string in one model (`WorkerListQuery`)."""
    reason = (purpose or "").strip()
    if unmask and reason and principal.is_admin:
        return Disclosure(reveal=True, purpose=reason, action=f"{request.method} {request.url.path}")
    return Disclosure(reveal=False)


DisclosureDep = Annotated[Disclosure, Depends(disclosure)]


async def record_personal_data_access(*, session: AsyncSession, principal: Principal, worker_ids: Iterable[uuid.UUID],
                                      purpose: str, action: str, fields: Iterable[str] = UNMASKED_FIELDS) -> None:
    """Record, in the caller's transaction, that `principal` saw these workers' personal data unmasked, and why.

    The one place such looks are written: whatever keeps the audit trail takes them from here."""
    rows = [{"id": uuid.uuid4(), "worker_id": worker_id, "subject": principal.subject,
             "client_id": principal.client_id, "roles": ",".join(sorted(principal.roles)), "purpose": purpose,
             "fields": ",".join(fields), "action": action, "request_id": request_id_var.get()}
            for worker_id in dict.fromkeys(worker_ids)]
    if rows:
        await audit.declare_actor(session)  # a look comes with a GET: the trail's capture needs the actor
        await session.execute(insert(PersonalDataAccess), rows)
