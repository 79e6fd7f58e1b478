"""Calls to the registry's internal API with the service's own token; transport and token are injectable."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable

import httpx

from shared.auth import ServiceTokens
from shared.errors import Unavailable

TokenSource = Callable[[httpx.AsyncClient], Awaitable[str]]


class RegistryClient:
    def __init__(self, *, base_url: str, token: TokenSource, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.transport = transport
        self.timeout = timeout

    async def lookup_workers(self, worker_ids: Iterable[uuid.UUID], *, chunk: int = 1000) -> dict[str, dict]:
        """{worker id: {name, id_number_masked, ...}}; 503 problem if the registry cannot answer."""
        ids = [str(w) for w in dict.fromkeys(worker_ids)]
        found: dict[str, dict] = {}
        try:
            async with httpx.AsyncClient(base_url=self.base_url, transport=self.transport,
                                         timeout=self.timeout) as client:
                token = await self.token(client)
                for start in range(0, len(ids), chunk):
                    response = await client.post("/v1/internal/workers/lookup",
                                                 json={"worker_ids": ids[start:start + chunk]},
                                                 headers={"Authorization": f"Bearer {token}"})
                    response.raise_for_status()
                    for item in response.json()["items"]:
                        found[str(item["id"])] = item
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise Unavailable(f"the registry cannot be reached for worker names: {exc.__class__.__name__}") from exc
        return found


def default_registry_client(settings) -> RegistryClient | None:
    """Configured when the service has client credentials; None means exports carry no names."""
    if not settings.client_id or not settings.client_secret:
        return None
    tokens = ServiceTokens(token_url=f"{settings.gateway_url.rstrip('/')}/auth/token", client_id=settings.client_id,
                           client_secret=settings.client_secret.get_secret_value())
    return RegistryClient(base_url=settings.registry_url, token=tokens.get, timeout=settings.registry_timeout_s)
