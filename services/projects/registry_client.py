"""Client of the registry's internal API: station look-up and employment checks, with a service token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import httpx

from shared.auth import ServiceTokens
from shared.errors import Unavailable

log = logging.getLogger("projects.registry")

TokenSource = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class EmploymentCheck:
    employed: frozenset[UUID]
    not_employed: frozenset[UUID]


class RegistryClient:
    """One pooled HTTP client; transport and token source are injectable (tests run the real registry in-process).

    Every failure to get an answer (connection refused, timeout, 5xx, no token) is a 503 problem for our
    caller: the registry is the authority on stations and employment, and we never guess without it.
    """

    def __init__(self, *, base_url: str, token_source: TokenSource, timeout: float = 3.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.token_source = token_source
        self.timeout = timeout
        self._client = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=timeout)

    @classmethod
    def from_settings(cls, settings) -> RegistryClient:
        gateway = httpx.AsyncClient(timeout=settings.registry_timeout_s)
        secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
        tokens = ServiceTokens(token_url=f"{settings.gateway_url.rstrip('/')}/auth/token",
                               client_id=settings.client_id or "projects", client_secret=secret)

        async def token() -> str:
            return await tokens.get(gateway)

        client = cls(base_url=settings.registry_url, token_source=token, timeout=settings.registry_timeout_s)
        client._owned = [gateway]
        return client

    async def aclose(self) -> None:
        await self._client.aclose()
        for extra in getattr(self, "_owned", []):
            await extra.aclose()

    async def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            # asyncio.timeout as well as httpx's: in-process transports ignore httpx timeouts.
            async with asyncio.timeout(self.timeout):
                token = await self.token_source()
                response = await self._client.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except (TimeoutError, httpx.TimeoutException) as exc:
            log.warning("registry timed out on %s %s", method, path)
            raise Unavailable(f"the registry did not answer within {self.timeout:g} s; try again later",
                              upstream="registry") from exc
        except httpx.HTTPError as exc:
            log.warning("registry unreachable on %s %s: %r", method, path, exc)
            raise Unavailable("the registry is unreachable; try again later", upstream="registry") from exc
        if response.status_code >= 500 or response.status_code in (401, 403):
            log.warning("registry answered %s on %s %s", response.status_code, method, path)
            raise Unavailable(f"the registry answered {response.status_code}; try again later",
                              upstream="registry")
        return response

    async def get_station(self, station_id: UUID) -> dict | None:
        """The station, or None when the registry does not know it."""
        response = await self._request("GET", f"/v1/internal/stations/{station_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable(f"the registry answered {response.status_code}", upstream="registry")
        return response.json()

    async def employment_check(self, *, station_id: UUID, month: str, worker_ids: list[UUID]) -> EmploymentCheck | None:
        """Who of `worker_ids` is employed at the station in `month`; None when the station is unknown."""
        response = await self._request("POST", "/v1/internal/employment-check", json={
            "station_id": str(station_id), "month": month, "worker_ids": [str(w) for w in worker_ids]})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable(f"the registry answered {response.status_code}", upstream="registry")
        body = response.json()
        return EmploymentCheck(employed=frozenset(UUID(w) for w in body.get("employed", [])),
                               not_employed=frozenset(UUID(w) for w in body.get("not_employed", [])))
