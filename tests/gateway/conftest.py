"""Gateway fixtures: real HTTP servers (uvicorn in this event loop) for the gateway and its upstreams."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import uvicorn

from devstack.embedded import free_port
from services.gateway.settings import GatewaySettings

ADMIN = ("admin", "admin-password-for-tests")


def gateway_settings(url: str) -> GatewaySettings:
    """A gateway on `url` with the test admin, no rate limit, and the registry's service client."""
    return GatewaySettings(database_url=url, env="test", admin_username=ADMIN[0], admin_password=ADMIN[1],
                           rate_limit_enabled=False, registry_client_id="svc-registry",
                           registry_client_secret="registry-secret-from-env")


class _InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # pytest owns the signals
        yield


@contextlib.asynccontextmanager
async def serve(app, port: int | None = None, *, proxy_headers: bool = False) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on 127.0.0.1 inside the running loop; yields its base URL.

    Proxy headers are off: the gateway is the edge and must not take a client's X-Forwarded-For as its address.
    """
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=1, access_log=False,
                            proxy_headers=proxy_headers)
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        task.cancel()
        raise RuntimeError(f"server on port {port} did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


def closed_port() -> int:
    """A port with nothing listening on it (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def password_token(gw, username: str, password: str) -> httpx.Response:
    return await gw.post("/auth/token", data={"grant_type": "password", "username": username, "password": password})


async def bearer(gw, username: str, password: str) -> dict:
    """The Authorization header of a password sign-in that must succeed."""
    response = await password_token(gw, username, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def new_user(gw, admin_headers, *roles: str, **extra) -> tuple[str, str, dict]:
    username, password = f"u{uuid.uuid4().hex[:8]}", "a long passphrase 123"
    response = await gw.post("/auth/users", headers=admin_headers, json={
        "username": username, "password": password, "roles": list(roles), **extra})
    assert response.status_code == 201, response.text
    return username, password, response.json()
