"""Client of the registry's internal API (/v1/internal/*), used by the projects and subsidy services.

Paths and bodies are the contract in `shared.contracts.registry_internal`, the same models the registry serves.

It calls with the service's own client-credentials token. Every failure to get an answer (refused,
timeout, 5xx, no token) is a 503 problem for the caller: the registry is the authority on stations,
employment and people, and no service guesses without it. Transport and token source are injectable,
so tests run the real registry app in-process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from shared.auth import ServiceTokens
from shared.contracts import registry_internal as contract
from shared.errors import Unavailable
from shared.settings import ServiceSettings

log = logging.getLogger("shared.registry_client")
TokenSource = Callable[[], Awaitable[str]]
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class EmploymentCheck:
    employed: frozenset[UUID]
    not_employed: frozenset[UUID]


class RegistryClient:
    def __init__(self, *, base_url: str, token_source: TokenSource, timeout: float = 3.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.token_source = token_source
        self.timeout = timeout
        self._client = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=timeout)
        self._owned: list[httpx.AsyncClient] = []

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> RegistryClient:
        """Tokens from the gateway's /auth/token with the service's client id and secret."""
        gateway = httpx.AsyncClient(timeout=settings.registry_timeout_s)
        tokens = ServiceTokens(
            token_url=f"{settings.gateway_url.rstrip('/')}/auth/token",
            client_id=settings.client_id or settings.service_name,
            client_secret=settings.client_secret.get_secret_value() if settings.client_secret else "")

        async def token() -> str:
            return await tokens.get(gateway)

        client = cls(base_url=settings.registry_url, token_source=token, timeout=settings.registry_timeout_s)
        client._owned.append(gateway)
        return client

    async def aclose(self) -> None:
        for client in (self._client, *self._owned):
            await client.aclose()

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
            raise Unavailable(f"the registry answered {response.status_code}; try again later", upstream="registry")
        return response

    async def _call(self, method: str, path: str, result: type[Model], body: BaseModel | None = None) -> Model | None:
        """The answer parsed as the contract's `result`, or None for a 404."""
        json = body.model_dump(mode="json") if body is not None else None
        response = await self._request(method, f"{contract.PREFIX}{path}", json=json)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable(f"the registry answered {response.status_code}", upstream="registry")
        try:
            return result.model_validate_json(response.content)
        except ValidationError as exc:
            log.warning("registry answered %s %s off contract: %s", method, path, exc)
            raise Unavailable("the registry answered off contract", upstream="registry") from exc

    async def get_station(self, station_id: UUID) -> dict | None:
        """The station, or None when the registry does not know it."""
        station = await self._call("GET", contract.STATION.format(station_id=station_id), contract.InternalStation)
        return station.model_dump(mode="json") if station is not None else None

    async def employment_check(self, *, station_id: UUID, month: str, worker_ids: list[UUID]) -> EmploymentCheck | None:
        """Who of `worker_ids` is employed at the station in `month`; None when the station is unknown."""
        body = await self._call("POST", contract.EMPLOYMENT_CHECK, contract.EmploymentCheckResult,
                                contract.EmploymentCheckRequest(station_id=station_id, month=month,
                                                                worker_ids=worker_ids))
        if body is None:
            return None
        return EmploymentCheck(employed=frozenset(body.employed), not_employed=frozenset(body.not_employed))

    async def payees(self, worker_ids: Iterable[UUID], *, purpose: str, account_ids: list[UUID] | None = None,
                     chunk: int = 1000) -> tuple[dict[str, dict], list[str]]:
        """Clear name, ID number and account per worker id (their verified account, or the given account rows,
        one per worker in the same order), and the ids without such an account."""
        ids = list(worker_ids)
        found: dict[str, dict] = {}
        missing: list[str] = []
        for start in range(0, len(ids), chunk):
            accounts = account_ids[start:start + chunk] if account_ids is not None else None
            body = await self._call("POST", contract.PAYEES, contract.PayeeResult, contract.PayeeRequest(
                worker_ids=ids[start:start + chunk], account_ids=accounts, purpose=purpose))
            if body is None:
                raise Unavailable("the registry does not serve payee data", upstream="registry")
            found.update({str(item.id): item.model_dump(mode="json") for item in body.items})
            missing += [str(w) for w in body.without_account]
        return found, missing

    async def lookup_workers(self, worker_ids: Iterable[UUID], *, chunk: int = 1000) -> dict[str, dict]:
        """{worker id: {name, id_number_masked, phone_masked, station_ids, bank_account}}."""
        ids = list(dict.fromkeys(worker_ids))
        found: dict[str, dict] = {}
        for start in range(0, len(ids), chunk):
            body = await self._call("POST", contract.WORKERS_LOOKUP, contract.WorkerLookupResult,
                                    contract.WorkerLookupRequest(worker_ids=ids[start:start + chunk]))
            for item in body.items if body is not None else ():
                found[str(item.id)] = item.model_dump(mode="json")
        return found
