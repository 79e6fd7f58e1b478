"""HTTP of identity: the OAuth2 token endpoint, the JWKS, and creation of users and clients."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request, Response, status

from services.gateway.identity import service
from services.gateway.identity.schemas import ClientCreate, ClientCreated, TokenResponse, UserCreate, UserRead
from services.gateway.identity.service import OAuthError
from shared import audit
from shared.auth import CurrentPrincipal, Role, allow
from shared.db import SessionDep

router = APIRouter(tags=["auth"])


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise service.invalid_client() from None
    if not sep:
        raise service.invalid_client()
    # RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


@router.post("/auth/token", response_model=TokenResponse, response_model_exclude_none=True,
             responses={400: {"description": "OAuth2 error (problem+json with `error`)"},
                        401: {"description": "client authentication failed"}})
async def issue_token(
    request: Request, response: Response, session: SessionDep,
    grant_type: Annotated[str | None, Form()] = None,
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> dict:
    """OAuth2 token endpoint (RFC 6749): `password`, `refresh_token` and `client_credentials` grants."""
    state = request.app.state
    # No one is known yet: the trail records what signing in writes (throttle counts, sessions) as anonymous,
    # with this request's id and path; the account is the throttle row's key or the session's user.
    audit.bind_request(None, request)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    common = {"session": session, "keyring": state.keyring, "settings": state.settings}
    # The caller's address is the peer's, or X-Forwarded-For's when the peer is a trusted proxy (settings).
    guarded = {"throttle": state.throttle, "address": request.client.host if request.client else None}
    if grant_type == "password":
        if not username or not password:
            raise OAuthError("invalid_request", "the password grant needs username and password")
        return await service.password_grant(**common, **guarded, username=username, password=password)
    if grant_type == "refresh_token":
        if not refresh_token:
            raise OAuthError("invalid_request", "the refresh_token grant needs refresh_token")
        return await service.refresh_grant(**common, sessionmaker=state.sessionmaker, refresh_token=refresh_token)
    if grant_type == "client_credentials":
        basic = _basic_credentials(request)
        if basic is not None and client_id and client_id != basic[0]:
            raise OAuthError("invalid_request", "client_id in the form differs from the Basic credentials")
        cid, secret = basic or (client_id, client_secret)
        if not cid or not secret:
            raise service.invalid_client()
        return await service.client_credentials_grant(**common, **guarded, client_id=cid, client_secret=secret)
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is missing")
    raise OAuthError("unsupported_grant_type", "grant_type must be password, refresh_token or client_credentials")


@router.get("/.well-known/jwks.json", tags=["auth"])
async def jwks(request: Request, response: Response) -> dict:
    """Public signing keys: the active key and retired keys whose tokens may not have expired yet."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return await request.app.state.keyring.jwks()


@router.post("/auth/users", status_code=status.HTTP_201_CREATED, response_model=UserRead,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def create_user(body: UserCreate, session: SessionDep, principal: CurrentPrincipal):
    """Create a person who signs in with a password (bureau_admin only)."""
    return await service.create_user(session=session, username=body.username, password=body.password,
                                     roles=list(body.roles), station_ids=body.station_ids, worker_id=body.worker_id)


@router.post("/auth/clients", status_code=status.HTTP_201_CREATED, response_model=ClientCreated,
             dependencies=[allow(Role.BUREAU_ADMIN)])
async def create_client(body: ClientCreate, session: SessionDep, principal: CurrentPrincipal):
    """Create an HR-system or service client; its secret is in this response only (bureau_admin only)."""
    client, secret = await service.create_client(session=session, kind=body.kind, client_id=body.client_id,
                                                 name=body.name, roles=body.roles, scopes=body.scopes)
    return ClientCreated(client_id=client.client_id, client_secret=secret, name=client.name, kind=client.kind,
                         roles=client.roles, scopes=client.scopes)
