"""Identity rules: people and clients, password hashing, the OAuth2 grants and refresh-token rotation."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.identity.keys import KeyRing
from services.gateway.identity.models import Client, RefreshToken, User
from services.gateway.identity.throttle import Throttle, Throttled
from services.gateway.settings import GatewaySettings
from shared.auth import Role
from shared.errors import AppError, Conflict, Invalid

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
_ADMIN_LOCK = 0x6761_7465_6164_6D6E
CLIENT_ROLES = frozenset({Role.HR_SYSTEM, Role.SERVICE, Role.AUDITOR})
# Roles of machines only: a person holding `service` would read every worker's payment data beside their own
# role (a station manager's scope widened to the bureau's), and `hr_system` pushes data as a municipal system.
MACHINE_ROLES = frozenset({Role.HR_SYSTEM, Role.SERVICE})


class OAuthError(AppError):
    """An RFC 6749 token error, rendered as problem+json that also carries `error` and `error_description`."""

    TITLES = {400: "Bad request", 401: "Not authenticated", 429: "Too many requests"}

    def __init__(self, error: str, description: str, *, status: int = 400, headers: dict | None = None):
        super().__init__(description, error=error, error_description=description,
                         headers={"Cache-Control": "no-store", **(headers or {})})
        self.status = status
        self.title = self.TITLES.get(status, "Bad request")


def invalid_client() -> OAuthError:
    return OAuthError("invalid_client", "client authentication failed", status=401,
                      headers={"WWW-Authenticate": 'Basic realm="socialwork"'})


async def hash_secret(value: str) -> str:
    return await asyncio.to_thread(_hasher.hash, value)


async def verify_secret(stored_hash: str | None, value: str) -> bool:
    """Constant work whether or not the account exists (argon2 runs in a thread: it takes tens of ms)."""
    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, value) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return await asyncio.to_thread(check)


async def _count_attempt(throttle: Throttle | None, keys: dict) -> None:
    """Before any hashing: 429 with Retry-After when the account or the address must wait."""
    if throttle is None:
        return
    try:
        await throttle.attempt(keys)
    except Throttled as exc:
        await throttle.hold_refusal(exc.retry_after)
        raise OAuthError("slow_down", f"too many failed sign-ins; retry in {exc.retry_after} s", status=429,
                         headers={"Retry-After": str(exc.retry_after)}) from None


def _refresh_hash(token: str) -> str:
    # Refresh tokens are 256 random bits: a plain digest is enough to keep them unusable if the table leaks.
    return hashlib.sha256(token.encode()).hexdigest()


# --- people and clients ------------------------------------------------------------------------------

async def create_user(*, session: AsyncSession, username: str, password: str, roles: list[str],
                      station_ids: list[uuid.UUID] | None = None, worker_id: uuid.UUID | None = None) -> User:
    if MACHINE_ROLES.intersection(roles):
        raise Invalid(f"a person may not hold the roles {', '.join(sorted(MACHINE_ROLES))} (clients only)",
                      field="roles")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("a user with this username exists", field="username")
    user = User(id=uuid.uuid4(), username=username, password_hash=await hash_secret(password),
                roles=sorted(set(roles)), station_ids=list(dict.fromkeys(station_ids or [])),
                worker_id=worker_id, disabled=False)
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("a user with this username exists", field="username") from None
    return user


async def create_client(*, session: AsyncSession, kind: str, client_id: str | None = None, name: str | None = None,
                        roles: list[str] | None = None, scopes: list[str] | None = None) -> tuple[Client, str]:
    """Returns the client and its secret; the secret is not stored and cannot be shown again."""
    roles = sorted(set(roles or [kind]))
    if not CLIENT_ROLES.issuperset(roles):
        raise Invalid(f"clients may only hold the roles {', '.join(sorted(CLIENT_ROLES))}", field="roles")
    client_id = client_id or f"{kind.replace('_', '-')}-{secrets.token_hex(4)}"
    if await session.get(Client, client_id) is not None:
        raise Conflict("a client with this client_id exists", field="client_id")
    secret = secrets.token_urlsafe(32)
    client = Client(client_id=client_id, secret_hash=await hash_secret(secret), name=name, kind=kind,
                    roles=roles, scopes=sorted(set(scopes or [])), disabled=False)
    session.add(client)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("a client with this client_id exists", field="client_id") from None
    return client, secret


async def upsert_service_client(*, session: AsyncSession, client_id: str, secret: str) -> None:
    """A service's own client (role `service`) with a secret chosen by the deployment."""
    stmt = insert(Client).values(client_id=client_id, secret_hash=await hash_secret(secret), name=client_id,
                                 kind="service", roles=[Role.SERVICE], scopes=[], disabled=False)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[Client.client_id],
        set_={"secret_hash": stmt.excluded.secret_hash, "roles": [Role.SERVICE], "disabled": False}))


async def create_admin(*, session: AsyncSession, username: str, password: str) -> User:
    """The first (or another) bureau administrator; the operator CLI calls this in production."""
    return await create_user(session=session, username=username, password=password, roles=[Role.BUREAU_ADMIN])


async def create_admin_in_database(database_url: str, *, username: str, password: str) -> uuid.UUID:
    """create_admin in its own transaction, for the command line."""
    from shared.db import make_engine, make_sessionmaker  # noqa: PLC0415

    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return (await create_admin(session=session, username=username, password=password)).id
    finally:
        await engine.dispose()


async def bootstrap(*, session: AsyncSession, settings: GatewaySettings) -> None:
    """Dev and test only: the first admin from settings, and the service clients from the environment."""
    if settings.env not in ("dev", "test"):
        return
    if settings.admin_username and settings.admin_password:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADMIN_LOCK})
        if not await session.scalar(select(func.count()).select_from(User)):
            await create_admin(session=session, username=settings.admin_username,
                               password=settings.admin_password.get_secret_value())
    for client_id, secret in settings.service_clients().values():
        await upsert_service_client(session=session, client_id=client_id, secret=secret.get_secret_value())


# --- tokens -------------------------------------------------------------------------------------------

def _claims(settings: GatewaySettings, *, sub: str, roles: list[str], station_ids: list, worker_id,
            **extra) -> dict:
    now = int(time.time())
    return {
        "iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": sub, "iat": now, "nbf": now,
        "exp": now + settings.access_token_ttl, "jti": uuid.uuid4().hex, "typ": "access",
        "roles": list(roles), "station_ids": [str(s) for s in station_ids],
        "worker_id": str(worker_id) if worker_id else None, **extra,
    }


async def _issue_for_user(*, session: AsyncSession, keyring: KeyRing, settings: GatewaySettings, user: User,
                          family_id: uuid.UUID) -> dict:
    access = await keyring.sign(_claims(settings, sub=str(user.id), roles=user.roles, station_ids=user.station_ids,
                                        worker_id=user.worker_id, preferred_username=user.username))
    refresh = secrets.token_urlsafe(32)
    session.add(RefreshToken(id=uuid.uuid4(), token_hash=_refresh_hash(refresh), user_id=user.id,
                             family_id=family_id,
                             expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl)))
    await session.flush()
    return {"access_token": access, "token_type": "bearer", "expires_in": settings.access_token_ttl,
            "refresh_token": refresh}


async def password_grant(*, session: AsyncSession, keyring: KeyRing, settings: GatewaySettings,
                         username: str, password: str, throttle: Throttle | None = None,
                         address: str | None = None) -> dict:
    keys = throttle.keys(account=f"user:{username}", address=address) if throttle else {}
    await _count_attempt(throttle, keys)
    user = await session.scalar(select(User).where(User.username == username))
    if not await verify_secret(user.password_hash if user else None, password):
        raise OAuthError("invalid_grant", "username or password is wrong")
    if user.disabled:
        raise OAuthError("invalid_grant", "this account is disabled")
    if throttle is not None:
        await throttle.succeeded(keys)
    return await _issue_for_user(session=session, keyring=keyring, settings=settings, user=user,
                                 family_id=uuid.uuid4())


async def refresh_grant(*, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], keyring: KeyRing,
                        settings: GatewaySettings, refresh_token: str) -> dict:
    """Rotation: each refresh token works once; presenting a used one again revokes its whole family."""
    token_hash = _refresh_hash(refresh_token)
    now = datetime.now(UTC)
    row = (await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None),
               RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
        .values(used_at=now).returning(RefreshToken.user_id, RefreshToken.family_id))).first()
    if row is None:
        known = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        if known is not None and known.used_at is not None:
            # Someone holds a copy of a spent token: end the whole family. Its own transaction, because
            # the request's unit of work is rolled back when the error below is raised.
            async with sessionmaker() as revoking, revoking.begin():
                await revoking.execute(update(RefreshToken).where(
                    RefreshToken.family_id == known.family_id, RefreshToken.revoked_at.is_(None),
                ).values(revoked_at=now))
        raise OAuthError("invalid_grant", "refresh token is invalid, expired, used or revoked")
    user = await session.get(User, row.user_id)
    if user is None or user.disabled:
        raise OAuthError("invalid_grant", "this account is disabled")
    return await _issue_for_user(session=session, keyring=keyring, settings=settings, user=user,
                                 family_id=row.family_id)


async def client_credentials_grant(*, session: AsyncSession, keyring: KeyRing, settings: GatewaySettings,
                                   client_id: str, client_secret: str, throttle: Throttle | None = None,
                                   address: str | None = None) -> dict:
    keys = throttle.keys(account=f"client:{client_id}", address=address) if throttle else {}
    await _count_attempt(throttle, keys)
    client = await session.get(Client, client_id)
    if not await verify_secret(client.secret_hash if client else None, client_secret) or client.disabled:
        raise invalid_client()
    if throttle is not None:
        await throttle.succeeded(keys)
    access = await keyring.sign(_claims(settings, sub=client.client_id, roles=client.roles, station_ids=[],
                                        worker_id=None, client_id=client.client_id,
                                        scope=" ".join(client.scopes) or None))
    body = {"access_token": access, "token_type": "bearer", "expires_in": settings.access_token_ttl}
    if client.scopes:
        body["scope"] = " ".join(client.scopes)
    return body
