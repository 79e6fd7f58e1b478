"""HTTP: policies and their versions."""

from __future__ import annotations

from fastapi import APIRouter

from services.subsidy.policies import service
from services.subsidy.policies.schemas import PolicyRead, PolicyVersionCreate, PolicyVersionUpdate
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep
from shared.pagination import Page

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.get("", response_model=Page[PolicyRead])
async def list_policies(session: SessionDep, principal: CurrentPrincipal):
    """Every version of every policy (policies are public terms, readable by any signed-in caller)."""
    return {"items": await service.list_policies(session=session), "next_cursor": None}


@router.post("/{code}/versions", response_model=PolicyRead, status_code=201,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def create_policy_version(code: str, body: PolicyVersionCreate, session: SessionDep,
                                principal: CurrentPrincipal):
    """A new version: a version that has paid anything is never edited, changes make a new one."""
    return await service.create_version(session=session, code=code, data=body, created_by=principal.subject)


@router.patch("/{code}/versions/{version}", response_model=PolicyRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def update_policy_version(code: str, version: int, body: PolicyVersionUpdate, session: SessionDep,
                                principal: CurrentPrincipal):
    """Correct a version that has not paid anything; 409 once it has (then create a new version)."""
    return await service.update_version(session=session, code=code, version=version, data=body)
