"""The reverse proxy: one pooled HTTP client per upstream, streamed bodies, header hygiene, retries.

The client is aiohttp's, not httpx's, chosen by figures (`bench/gateway.py --clients`, 2 cores, trivial
upstream): one keep-alive GET costs the calling process 72-80 us of CPU with aiohttp against 330-390 us with
httpx split into 8 pools and 950-1140 us with one httpx pool (16 in flight); 150-190 us against 430-520 us
with one in flight. httpx stays the services' client, where a call is rare next to its database work.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from yarl import URL

from services.gateway.proxy.resilience import CircuitBreaker, RetryBudget
from services.gateway.settings import GatewaySettings
from shared.errors import PayloadTooLarge, Unavailable, UpstreamTimeout
from shared.logs import request_id_var

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_REACHED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.ServerDisconnectedError)
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
# Identity and forwarding headers only the gateway may set: a client sending them could impersonate.
_SPOOFABLE = re.compile(r"^(x-forwarded-|x-principal|x-user|x-auth-|x-roles|x-client-id|x-remote-|x-real-ip$"
                        r"|forwarded$|x-original-|x-request-id$|traceparent$|tracestate$|host$)")
_RESPONSE_DROP = frozenset({"date", "server", "x-request-id"})
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# Bodies announced at most this large are read at once and sent in one message (like nginx's proxy
# buffers): it spares a task per response; larger or unannounced bodies are streamed chunk by chunk.
SMALL_BODY = 64 * 1024


class BodyTooLarge(Exception):
    pass


class CallerBody:
    """The caller's body as it arrives, counted against the limit. The HTTP client reports a failing body as
    a connection error; `failure` keeps the real reason (too large, the caller went away) apart from that."""

    def __init__(self, request: Request, limit: int):
        self.request = request
        self.limit = limit
        self.failure: Exception | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        try:
            async for chunk in self.request.stream():
                seen += len(chunk)
                if seen > self.limit:
                    raise BodyTooLarge
                if chunk:
                    yield chunk
        except Exception as exc:
            self.failure = exc
            raise

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self])


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[str]:
    listed: set[str] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            listed.update(t.strip().lower() for t in value.decode("latin-1").split(","))
    return listed


def outgoing_headers(request: Request, prefix: str) -> tuple[list[tuple[str, str]], str]:
    """The headers sent upstream, and the traceparent to answer with."""
    raw = request.scope["headers"]
    drop = HOP_BY_HOP | _connection_tokens(raw)
    headers = []
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in drop or _SPOOFABLE.match(name):
            continue
        headers.append((name, value.decode("latin-1")))
    incoming = _TRACEPARENT.match(request.headers.get("traceparent", "").strip().lower())
    trace_id = incoming.group(1) if incoming and incoming.group(1) != "0" * 32 else secrets.token_hex(16)
    flags = incoming.group(3) if incoming else "01"
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"
    if incoming and request.headers.get("tracestate"):
        headers.append(("tracestate", request.headers["tracestate"]))
    client = request.client.host if request.client else ""
    headers += [
        ("x-request-id", request_id_var.get() or secrets.token_hex(16)),
        ("traceparent", traceparent),
        ("x-forwarded-for", client),
        ("x-forwarded-proto", request.url.scheme),
        ("x-forwarded-host", request.headers.get("host", "")),
        ("x-forwarded-prefix", prefix),
    ]
    return headers, traceparent


class UpstreamResponse(StreamingResponse):
    """Streams the upstream body as it comes; the upstream response is closed whatever happens,
    including when the client goes away mid-body (Starlette cancels the stream on http.disconnect)."""

    def __init__(self, upstream: Upstream, response: aiohttp.ClientResponse, headers: list[tuple[bytes, bytes]]):
        super().__init__(response.content.iter_any(), status_code=response.status)
        self.raw_headers = headers
        self.owner = upstream
        self.upstream = response

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.owner.done(self.upstream)


class Upstream:
    def __init__(self, name: str, base_url: str, settings: GatewaySettings):
        self.name = name
        self.prefix = f"/{name}"
        self.base_url = base_url.rstrip("/")
        self.max_body = settings.max_body_bytes
        self.retry_attempts = settings.retry_attempts
        # `connect` bounds waiting for a pooled connection plus opening one; `sock_read` each wait for bytes.
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.upstream_pool_timeout + settings.upstream_connect_timeout,
            sock_connect=settings.upstream_connect_timeout, sock_read=settings.upstream_read_timeout)
        # One pool per upstream (the session's connector). Idle connections are dropped before the services'
        # uvicorn closes them (its keep-alive is 5 s): reusing one the server is closing fails the request,
        # and a POST cannot be repeated.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.upstream_max_connections, limit_per_host=0,
                                           keepalive_timeout=4, ttl_dns_cache=60),
            timeout=self.timeout, auto_decompress=False, trust_env=False,
            # A shared client must never keep one caller's Set-Cookie and send it with another caller's request,
            # nor add headers of its own (User-Agent, Accept-Encoding, Content-Type) the caller did not send.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"))
        # The retry policy is the gateway's alone (below: GET/HEAD/OPTIONS, within the budget, counted);
        # aiohttp would otherwise repeat a PUT or DELETE by itself when a reused connection hangs up.
        self.session._retry_connection = False
        self.breaker = CircuitBreaker(failures=settings.breaker_failures, open_seconds=settings.breaker_open_seconds)
        self.budget = RetryBudget(ratio=settings.retry_budget_ratio, floor=settings.retry_budget_floor)
        self.stats: Counter[str] = Counter()
        self.in_flight = 0  # upstream responses not yet closed

    async def aclose(self) -> None:
        await self.session.close()

    async def get_json(self, path: str, *, timeout: float) -> tuple[int, object | None]:
        """The gateway's own calls (readiness, OpenAPI): (status, JSON body or None); (0, None) if unreachable."""
        try:
            async with self.session.get(f"{self.base_url}{path}",
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            return 0, None
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None

    def done(self, response: aiohttp.ClientResponse) -> None:
        """Give the connection back when the body was read to the end, close it otherwise (the service stops)."""
        self.in_flight -= 1
        if response.content.at_eof():
            response.release()
        else:
            response.close()

    def _target(self, request: Request) -> URL:
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0][len(self.prefix):] or "/"
        query = request.scope.get("query_string", b"").decode("latin-1")
        # As the caller encoded it: no re-quoting of the path or the query on the way through.
        return URL(f"{self.base_url}{path}" + (f"?{query}" if query else ""), encoded=True)

    def _location(self, value: bytes) -> bytes:
        """Redirects point at the gateway's path for the service, never at the service's own address."""
        location = value.decode("latin-1")
        if location.startswith(self.base_url + "/"):
            location = location[len(self.base_url):]
        if location.startswith("/") and not location.startswith("//"):
            location = self.prefix + location
        return location.encode("latin-1")

    async def _send(self, method: str, url: URL, headers: list[tuple[str, str]],
                    content: bytes | CallerBody | None) -> aiohttp.ClientResponse:
        """One request, retried (idempotent methods, within the budget) when nothing reached the service."""
        idempotent = method in IDEMPOTENT
        self.budget.request()
        attempt = 0
        while True:
            attempt += 1
            self.stats["attempts"] += 1
            try:
                return await self.session.request(method, url, headers=headers, data=content, allow_redirects=False)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if isinstance(content, CallerBody) and content.failure is not None:
                    raise content.failure from exc  # the caller's fault (too large, gone), not the service's
                # Refused, no connection in time, or hung up before answering: nothing was done, a GET may repeat.
                unreached = isinstance(exc, NOT_REACHED)
                if unreached and idempotent and attempt <= self.retry_attempts and self.budget.withdraw():
                    self.stats["retries"] += 1
                    continue
                self.breaker.failure()
                if unreached:
                    raise Unavailable(f"{self.name} is not reachable") from exc
                if isinstance(exc, TimeoutError):
                    raise UpstreamTimeout(f"{self.name} did not answer in time") from exc
                raise Unavailable(f"{self.name} failed while answering") from exc

    async def handle(self, request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise PayloadTooLarge(f"the request body is larger than {self.max_body} bytes")
        if not self.breaker.allow():
            self.stats["rejected_open"] += 1
            raise Unavailable(f"{self.name} is failing; the gateway stops calling it for a moment",
                              headers={"Retry-After": str(self.breaker.retry_after())})
        headers, traceparent = outgoing_headers(request, self.prefix)
        method = request.method
        idempotent = method in IDEMPOTENT
        has_body = (length not in (None, "0")) or "transfer-encoding" in request.headers
        settled = False
        try:
            content: bytes | CallerBody | None = None
            if has_body:
                # Idempotent requests are retried, so their (rare, small) bodies are kept; others are streamed.
                content = CallerBody(request, self.max_body)
                if idempotent:
                    content = await content.read()
                if idempotent:
                    headers = [(k, v) for k, v in headers if k != "content-length"]
            try:
                response = await self._send(method, self._target(request), headers, content)
            except (Unavailable, UpstreamTimeout):
                settled = True
                raise
        except BodyTooLarge:
            raise PayloadTooLarge(f"the request body is larger than {self.max_body} bytes") from None
        finally:
            if not settled:
                self.breaker.abandoned()
        self.breaker.success()
        self.in_flight += 1
        drop = HOP_BY_HOP | _RESPONSE_DROP | _connection_tokens(response.raw_headers)
        out = [(k, self._location(v) if k.lower() == b"location" else v)
               for k, v in response.raw_headers if k.decode("latin-1").lower() not in drop]
        out.append((b"traceparent", traceparent.encode()))
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) <= SMALL_BODY:
            try:
                body = await response.read()  # as sent: still encoded (no automatic decompression)
            except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors
                raise UpstreamTimeout(f"{self.name} did not answer in time") from exc
            except aiohttp.ClientError as exc:
                raise Unavailable(f"{self.name} failed while answering") from exc
            finally:
                self.done(response)
            small = Response(body, status_code=response.status)
            small.raw_headers = out
            return small
        return UpstreamResponse(self, response, out)
