"""Request and response bodies of the identity endpoints."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.auth import Role as RoleEnum

Role = Literal[tuple(r.value for r in RoleEnum)]  # the names of shared.auth.Role
ClientKind = Literal["hr_system", "service"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "username": "li.manager", "password": "a long passphrase", "roles": ["station_manager"],
        "station_ids": ["5f0c6f3e-52a4-4d55-9a55-0a4b8c0e7d10"], "worker_id": None}]})

    username: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=10, max_length=256)
    roles: list[Role] = Field(min_length=1)
    station_ids: list[uuid.UUID] = []
    worker_id: uuid.UUID | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    roles: list[str]
    station_ids: list[uuid.UUID]
    worker_id: uuid.UUID | None
    disabled: bool


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "client_id": "hr-ordos", "name": "Ordos municipal HR system", "kind": "hr_system"}]})

    client_id: str | None = Field(None, min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    name: str | None = Field(None, max_length=200)
    kind: ClientKind
    # Defaults to the role named by `kind`.
    roles: list[Role] | None = None
    scopes: list[str] = []


class ClientCreated(BaseModel):
    client_id: str
    client_secret: str = Field(description="shown once: only its hash is kept")
    name: str | None
    kind: ClientKind
    roles: list[str]
    scopes: list[str]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None
