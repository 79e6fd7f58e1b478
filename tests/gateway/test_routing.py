"""Routing through the gateway to REAL upstream HTTP servers (uvicorn on free ports in this event loop)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import time

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.gateway.conftest import ADMIN, closed_port, serve
from tests.support import assert_problem, eventually, fresh_database

MAX_BODY = 64 * 1024


class EchoOut(BaseModel):
    method: str
    path: str
    query: str
    headers: dict[str, str]


def upstream_app(name: str, state: dict) -> FastAPI:
    app = FastAPI(title=name)

    @app.get("/v1/echo", response_model=EchoOut, operation_id="echo")
    async def echo(request: Request) -> EchoOut:
        return EchoOut(method=request.method, path=request.url.path, query=request.url.query,
                       headers=dict(request.headers))

    @app.delete("/v1/echo", operation_id="delete_echo", status_code=204)
    async def delete_echo() -> None:
        return None

    @app.post("/v1/upload")
    async def upload(request: Request) -> dict:
        digest, size, chunks = hashlib.sha256(), 0, 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
            chunks += 1
        return {"size": size, "sha256": digest.hexdigest(), "headers": dict(request.headers)}

    @app.get("/v1/items/{item_id}")
    async def get_item(item_id: str) -> dict:
        return {"id": item_id, "service": name}

    @app.get("/v1/stream")
    async def stream(n: int = 5, delay: float = 0.2):
        async def body():
            try:
                for i in range(n):
                    yield f"chunk {i}\n".encode()
                    await asyncio.sleep(delay)
            finally:
                state["stream_closed"] = state.get("stream_closed", 0) + 1
        return StreamingResponse(body(), media_type="text/plain", headers={"X-Upstream": name})

    @app.get("/v1/slow")
    async def slow(seconds: float = 3.0) -> dict:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.get("/v1/login")
    async def login() -> Response:
        return Response(b"{}", media_type="application/json", headers={"Set-Cookie": "session=alice; Path=/"})

    @app.get("/v1/compressed")
    async def compressed(size: int = 1000) -> Response:
        return Response(gzip.compress(_payload(size)), media_type="application/octet-stream",
                        headers={"Content-Encoding": "gzip"})

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"status": "ready"}

    return app


@pytest.fixture(scope="module")
async def stack(pg):
    """registry and subsidy up; projects on a port where nothing listens (yet)."""
    state: dict = {}
    down_port = closed_port()
    async with serve(upstream_app("registry", state)) as registry, serve(upstream_app("subsidy", state)) as subsidy:
        settings = GatewaySettings(
            database_url=await fresh_database(pg, "gateway"), env="test", admin_username=ADMIN[0],
            admin_password=ADMIN[1], registry_url=registry, subsidy_url=subsidy,
            projects_url=f"http://127.0.0.1:{down_port}", upstream_read_timeout=1.0, max_body_bytes=MAX_BODY,
            breaker_failures=3, breaker_open_seconds=1.0, rate_limit_enabled=False,
            cors_origins=["https://app.example.org"])
        app = create_app(settings)
        async with serve(app) as gateway, httpx.AsyncClient(base_url=gateway, timeout=10) as client:
            yield {"client": client, "app": app, "state": state, "down_port": down_port, "registry": registry}


async def test_pass_through_path_query_and_authorization(stack):
    client = stack["client"]
    response = await client.get("/registry/v1/echo?station_id=abc&q=%E4%B9%8C%E5%85%B0",
                                headers={"Authorization": "Bearer opaque-for-the-service"})
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["path"] == "/v1/echo" and echo["query"] == "station_id=abc&q=%E4%B9%8C%E5%85%B0"
    # The gateway does not authorize business calls: the service sees the caller's token as sent.
    assert echo["headers"]["authorization"] == "Bearer opaque-for-the-service"
    item = await client.get("/subsidy/v1/items/caf%C3%A9%20au%20lait")
    assert item.json() == {"id": "café au lait", "service": "subsidy"}
    missing = await client.get("/registry/v1/nothing-here")
    assert missing.status_code == 404  # the upstream's answer, passed back
    # The service's redirect (trailing slash) points back through the gateway, not at the service.
    redirect = await client.get("/registry/v1/echo/", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/registry/v1/echo"


async def test_spoofed_identity_and_hop_by_hop_headers_are_stripped(stack):
    response = await stack["client"].get("/registry/v1/echo", headers={
        "X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil", "Forwarded": "for=6.6.6.6",
        "X-Principal-Roles": "bureau_admin", "X-User-Id": "root", "X-Real-IP": "6.6.6.6",
        "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1", "Keep-Alive": "timeout=5",
        "X-Custom": "kept"})
    seen = response.json()["headers"]
    assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-forwarded-prefix"] == "/registry"
    assert seen["x-forwarded-host"].startswith("127.0.0.1")
    for name in ("x-principal-roles", "x-user-id", "x-real-ip", "forwarded", "x-secret-hop", "keep-alive"):
        assert name not in seen, name
    assert seen["x-custom"] == "kept"


async def test_no_cookie_or_default_header_leaks_between_callers(stack):
    async with httpx.AsyncClient(base_url=str(stack["client"].base_url)) as alice:
        assert (await alice.get("/registry/v1/login")).headers["set-cookie"].startswith("session=alice")
    raw = await _raw_get(stack["client"], "/registry/v1/echo")
    assert "cookie" not in raw["headers"]  # the gateway's pooled client kept nothing from Alice's answer
    assert "accept-encoding" not in raw["headers"] and "python-httpx" not in raw["headers"].get("user-agent", "")


async def _raw_get(client: httpx.AsyncClient, path: str) -> dict:
    """A GET with no headers beyond Host, over a bare socket."""
    url = httpx.URL(str(client.base_url))
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {url.host}\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return httpx.Response(200, content=data.split(b"\r\n\r\n", 1)[1]).json()


def _payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)  # incompressible: the gzip body stays as large


@pytest.mark.parametrize("size", [1000, 300_000])  # sent in one message, then streamed
async def test_encoded_bodies_pass_untouched(stack, size):
    response = await stack["client"].get("/registry/v1/compressed", params={"size": size})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(gzip.compress(_payload(size))) > size
    assert response.content == _payload(size)


async def test_request_id_and_traceparent_created_or_passed_on(stack):
    client = stack["client"]
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await client.get("/registry/v1/echo", headers={"X-Request-ID": "req-abc-123", "traceparent": trace})
    seen = response.json()["headers"]
    assert seen["x-request-id"] == "req-abc-123" and response.headers["x-request-id"] == "req-abc-123"
    assert seen["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert seen["traceparent"] != trace  # the gateway is a hop of its own
    assert response.headers["traceparent"] == seen["traceparent"]

    response = await client.get("/registry/v1/echo")
    seen = response.json()["headers"]
    assert seen["x-request-id"] == response.headers["x-request-id"] and len(seen["x-request-id"]) >= 16
    assert seen["traceparent"] == response.headers["traceparent"]
    assert len(seen["traceparent"].split("-")[1]) == 32


async def test_response_is_streamed(stack):
    started = time.monotonic()
    async with stack["client"].stream("GET", "/registry/v1/stream", params={"n": 5, "delay": 0.3}) as response:
        assert response.headers["x-upstream"] == "registry"
        chunks = []
        async for chunk in response.aiter_raw():
            chunks.append((time.monotonic() - started, chunk))
    assert b"".join(c for _, c in chunks) == b"".join(f"chunk {i}\n".encode() for i in range(5))
    # The first bytes arrived long before the upstream finished (1.5 s): nothing was buffered.
    assert chunks[0][0] < 0.8 and chunks[-1][0] >= 1.2


async def test_request_body_is_streamed_through(stack):
    async def body():
        for i in range(8):
            yield bytes([i]) * 4096

    response = await stack["client"].post("/registry/v1/upload", content=body())
    payload = b"".join(bytes([i]) * 4096 for i in range(8))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["size"] == len(payload) and result["sha256"] == hashlib.sha256(payload).hexdigest()
    assert result["headers"].get("transfer-encoding") == "chunked"


async def test_upstream_response_closed_when_the_client_goes_away(stack):
    state = stack["state"]
    before = state.get("stream_closed", 0)
    async with httpx.AsyncClient(base_url=str(stack["client"].base_url)) as own:
        async with own.stream("GET", "/registry/v1/stream", params={"n": 10_000, "delay": 0.05}) as response:
            async for _ in response.aiter_raw():
                break
    # The upstream generator was stopped: the gateway closed its side when the client left.
    await eventually(lambda: state.get("stream_closed", 0) > before, timeout=10)


async def test_concurrent_calls_share_the_pools_and_release_them(stack):
    upstream = stack["app"].state.upstreams["registry"]
    responses = await asyncio.gather(*(stack["client"].get("/registry/v1/slow", params={"seconds": 0.3})
                                       for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    async with stack["client"].stream("GET", "/registry/v1/stream", params={"n": 100, "delay": 0.01}) as response:
        async for _ in response.aiter_raw():
            break
    await eventually(lambda: upstream.in_flight == 0, timeout=5)


async def test_body_too_large(stack):
    client = stack["client"]
    body = assert_problem(await client.post("/registry/v1/upload", content=b"x" * (MAX_BODY + 1)), 413)
    assert body["request_id"]

    async def chunked():  # no Content-Length: the proxy counts as it streams
        for _ in range(20):
            yield b"y" * 8192

    assert_problem(await client.post("/registry/v1/upload", content=chunked()), 413)
    ok = await client.post("/registry/v1/upload", content=b"x" * MAX_BODY)
    assert ok.status_code == 200 and ok.json()["size"] == MAX_BODY


async def test_slow_upstream_gives_504(stack):
    started = time.monotonic()
    response = await stack["client"].get("/registry/v1/slow", params={"seconds": 1.6})
    assert_problem(response, 504)
    assert time.monotonic() - started < 1.5
    assert (await stack["client"].get("/registry/v1/items/1")).status_code == 200  # one slow call, no harm


async def test_readyz_reports_each_upstream(stack):
    response = await stack["client"].get("/readyz")
    body = assert_problem(response, 503)
    assert body["checks"] == {"database": "ok", "registry": "ok", "subsidy": "ok", "projects": "unreachable"}


async def test_merged_openapi_and_docs(stack):
    client = stack["client"]
    spec = (await client.get("/openapi.json")).json()
    assert "/auth/token" in spec["paths"] and "/.well-known/jwks.json" in spec["paths"]
    echo = spec["paths"]["/registry/v1/echo"]["get"]
    assert echo["operationId"] == "registry_echo"
    assert "/subsidy/v1/items/{item_id}" in spec["paths"]
    assert "registry_EchoOut" in spec["components"]["schemas"] and "subsidy_EchoOut" in spec["components"]["schemas"]
    ref = echo["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/registry_EchoOut"
    text = str(spec)
    for target in {part.split("'")[0] for part in text.split("'$ref': '")[1:]}:
        section, name = target.split("/")[2:4]
        assert name in spec["components"][section], target  # every $ref resolves
    assert spec["info"]["x-unavailable-services"] == ["projects"]
    operation_ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()
                     if isinstance(op, dict) and "operationId" in op]
    assert len(operation_ids) == len(set(operation_ids))
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text and "swagger" in docs.text.lower()
    assert "/" not in spec["paths"]  # the root only sends a browser to the console
    root = await client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/console/")


async def test_cors_allow_list(stack):
    client = stack["client"]
    allowed = await client.options("/registry/v1/echo", headers={
        "Origin": "https://app.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
    refused = await client.options("/registry/v1/echo", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    simple = await client.get("/registry/v1/echo", headers={"Origin": "https://app.example.org"})
    assert simple.headers["access-control-allow-origin"] == "https://app.example.org"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


async def test_down_upstream_retries_get_only_then_breaker_opens_and_closes(stack):
    client, app = stack["client"], stack["app"]
    projects = app.state.upstreams["projects"]
    stats = projects.stats

    retries = stats["retries"]
    started = time.monotonic()
    response = await client.get("/projects/v1/items/1")
    assert_problem(response, 503)
    assert time.monotonic() - started < 1.0  # refused connections fail fast
    assert stats["retries"] == retries + 2  # GET: retried twice

    retries = stats["retries"]
    assert_problem(await client.post("/projects/v1/upload", content=b"{}"), 503)
    assert stats["retries"] == retries  # POST: never retried

    assert_problem(await client.delete("/projects/v1/echo"), 503)  # the third consecutive failure
    assert projects.breaker.state == "open"
    attempts = stats["attempts"]
    response = await client.get("/projects/v1/items/1")
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) >= 1
    assert stats["attempts"] == attempts  # the open breaker answered without calling the upstream

    # The service comes up; after the cool-down one trial request closes the breaker again.
    async with serve(upstream_app("projects", {}), port=stack["down_port"]):
        await asyncio.sleep(1.05)
        response = await client.get("/projects/v1/items/7")
        assert response.status_code == 200 and response.json() == {"id": "7", "service": "projects"}
        assert projects.breaker.state == "closed"
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["projects"] == "ok"


async def test_hang_up_before_answering_is_retried_for_get_only(stack):
    """A real TCP server that hangs up on every other connection: GET is repeated, POST is not."""
    connections = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        if len(connections) % 2 == 1:
            writer.close()  # hang up without a response
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    upstream = stack["app"].state.upstreams["subsidy"]
    original = upstream.base_url
    upstream.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        response = await stack["client"].get("/subsidy/v1/anything")
        assert response.status_code == 200 and response.text == "ok"
        assert len(connections) == 2
        for method in ("POST", "PUT", "DELETE"):  # the HTTP client must not repeat these on its own either
            connections.clear()
            response = await stack["client"].request(method, "/subsidy/v1/anything", content=b"{}")
            assert_problem(response, 503)
            assert len(connections) == 1, method
    finally:
        upstream.base_url = original
        server.close()
        await server.wait_closed()
