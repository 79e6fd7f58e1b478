"""JWT verification against the gateway's JWKS, and the principal every query scopes by.

The gateway authenticates; the services verify the token themselves and authorize in their queries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2

from shared import audit
from shared.errors import NotPermitted, Unauthorized, Unavailable


class Role(StrEnum):
    """The roles a token can carry. A StrEnum, so a role compares equal to its name in a token's claims."""

    BUREAU_ADMIN = "bureau_admin"  # 民政局管理员: keeps the registry, reviews, moves money
    AUDITOR = "auditor"  # 审计: reads everything, personal data masked
    STATION_MANAGER = "station_manager"  # 社工站站长: their stations' workers and reports
    SOCIAL_WORKER = "social_worker"  # 社工: themselves only
    HR_SYSTEM = "hr_system"  # 人社系统: exchanges registry data in bulk
    SERVICE = "service"  # service-to-service calls


ROLES = tuple(r.value for r in Role)
# Only asymmetric algorithms; the algorithm is taken from the key, never from the token header.
ALLOWED_ALGORITHMS = {"EdDSA", "ES256", "RS256"}


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    station_ids: frozenset[UUID] = field(default_factory=frozenset)
    worker_id: UUID | None = None
    client_id: str | None = None

    def has_any(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_admin(self) -> bool:
        return Role.BUREAU_ADMIN in self.roles

    @property
    def reads_everything(self) -> bool:
        """Bureau staff (admin, auditor) and the services read every record of a service they may use at all.

        HR systems are not in it: they read the registry (which says so itself) and nothing of payments."""
        return self.has_any(Role.BUREAU_ADMIN, Role.AUDITOR, Role.SERVICE)

    def require(self, *roles: str) -> None:
        if not self.has_any(*roles):
            raise NotPermitted(f"this action needs one of the roles: {', '.join(roles)}")


def principal_from_claims(claims: dict) -> Principal:
    try:
        return Principal(
            subject=str(claims["sub"]),
            roles=frozenset(r for r in claims.get("roles", []) if r in ROLES),
            station_ids=frozenset(UUID(s) for s in claims.get("station_ids", [])),
            worker_id=UUID(claims["worker_id"]) if claims.get("worker_id") else None,
            client_id=claims.get("client_id"),
        )
    except (KeyError, ValueError, TypeError):
        raise Unauthorized("token claims are malformed") from None


class JwksVerifier:
    """Verifies access tokens. A token verified once is remembered (by its exact text) until it expires, while
    the key set it was verified with is current: a client sends the same token with every request, and the
    signature check and PyJWT's parsing cost more CPU than a list request's query."""

    CACHE_SIZE = 10_000

    def __init__(self, *, issuer: str, audience: str, jwks_url: str | None = None,
                 jwks_json: str | None = None, ttl: float = 300.0, leeway: int = 10):
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.ttl = ttl
        self.leeway = leeway
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._static = jwks_json is not None
        self._lock = asyncio.Lock()
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()  # token: (principal, exp)
        if jwks_json is not None:
            self._load(json.loads(jwks_json))

    def _load(self, jwks: dict) -> None:
        keys = {}
        for entry in jwks.get("keys", []):
            if entry.get("kid") and entry.get("alg") in ALLOWED_ALGORITHMS:
                keys[entry["kid"]] = jwt.PyJWK(entry)
        self._keys = keys
        self._fetched_at = time.monotonic()
        self._verified.clear()  # a key may have gone: every token is checked again against the new set

    async def _refresh(self, *, force: bool) -> None:
        if self._static:
            return
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if (not force and age < self.ttl and self._keys) or (force and age < 5.0 and self._keys):
                return
            try:
                async with httpx.AsyncClient(timeout=3.0) as client:
                    response = await client.get(self.jwks_url)
                    response.raise_for_status()
                self._load(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise Unavailable("signing keys cannot be fetched from the gateway") from exc

    async def _key(self, kid: str) -> jwt.PyJWK:
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        if kid not in self._keys:
            raise Unauthorized("token signed with an unknown key")
        return self._keys[kid]

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[1] and (
                self._static or time.monotonic() - self._fetched_at < self.ttl):
            return cached[0]
        principal, expires = await self._verify(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("token is malformed") from None
        if header.get("alg") not in ALLOWED_ALGORITHMS or not isinstance(header.get("kid"), str):
            raise Unauthorized("token algorithm or key id not accepted")
        key = await self._key(header["kid"])
        if header["alg"] != key.algorithm_name:
            raise Unauthorized("token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token, key=key.key, algorithms=[key.algorithm_name], audience=self.audience,
                issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_nbf": True},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("token rejected") from None
        if claims.get("typ", "access") != "access":
            raise Unauthorized("not an access token")
        return principal_from_claims(claims), float(claims["exp"])


TOKEN_URL = "/auth/token"  # the gateway's token endpoint, as clients see it


class BearerAuthentication(OAuth2):
    """The one dependency that authenticates a request: being an OAuth2 security scheme itself, it declares how
    to get a token in every service's OpenAPI (the docs' Authorize button, generated clients) and marks each
    operation that needs one, and it reads and verifies the header. One dependency, not a scheme nested under a
    function: FastAPI's solving costs tens of microseconds per dependency of every request."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send a bearer token", headers={"WWW-Authenticate": "Bearer"})
        principal = await request.app.state.verifier.verify(token.strip())
        audit.bind_request(principal, request)  # the audit trail records who wrote in this request
        return principal


authenticate = BearerAuthentication(
    flows=OAuthFlows(password=OAuthFlowPassword(tokenUrl=TOKEN_URL, refreshUrl=TOKEN_URL),
                     clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL)),
    scheme_name="OAuth2", auto_error=False,
    description="Bearer tokens from the gateway's `/auth/token`: the password grant for people, the "
                "client-credentials grant for HR systems and services.")


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def allow(*roles: Role):
    """A router dependency: the roles that may use a resource at all (the README's role x resource table).

    Any other caller gets 403 before its request body is read or any row is touched; which objects an
    allowed caller sees is still decided in the queries (404 for what is out of its scope)."""

    async def check(principal: CurrentPrincipal) -> None:
        principal.require(*roles)

    return Depends(check)


class ServiceTokens:
    """A service's own client-credentials token for calling the other services, cached until near expiry."""

    def __init__(self, *, token_url: str, client_id: str, client_secret: str):
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self, client: httpx.AsyncClient) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() > self._expires - 30:
                response = await client.post(self.token_url, data={
                    "grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self.client_secret})
                response.raise_for_status()
                body = response.json()
                self._token = body["access_token"]
                self._expires = time.monotonic() + float(body.get("expires_in", 300))
            return self._token
