"""The reverse proxy: one pooled HTTP client per upstream, streamed bodies, header hygiene, retries."""

from __future__ import annotations

import importlib.util
import re
import secrets
import sys
from collections import Counter
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from services.gateway.proxy.pool import ShardedTransport
from services.gateway.proxy.resilience import CircuitBreaker, RetryBudget
from services.gateway.settings import GatewaySettings
from shared.errors import PayloadTooLarge, Unavailable, UpstreamTimeout
from shared.logs import request_id_var

# httpcore imports the optional `sniffio` on every lock it creates (several per request); since anyio
# stopped depending on it, that import fails each time and costs ~0.2 ms of sys.path scanning per try
# (encode/httpcore discussion #1102, PR #1103). Marking it absent makes the failure instant; adding
# `sniffio` to the project's dependencies is the proper fix and turns this line into a no-op.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
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


def _no_cookies() -> httpx.Cookies:
    """A shared client must never keep one caller's Set-Cookie and send it with another caller's request."""
    return httpx.Cookies(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))


class BodyTooLarge(Exception):
    pass


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

    def __init__(self, upstream: httpx.Response, headers: list[tuple[bytes, bytes]]):
        super().__init__(upstream.aiter_raw(), status_code=upstream.status_code)
        self.raw_headers = headers
        self.upstream = upstream

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.upstream.aclose()


class Upstream:
    def __init__(self, name: str, base_url: str, settings: GatewaySettings,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.name = name
        self.prefix = f"/{name}"
        self.base_url = base_url.rstrip("/")
        self.max_body = settings.max_body_bytes
        self.retry_attempts = settings.retry_attempts
        self.timeout = httpx.Timeout(connect=settings.upstream_connect_timeout, read=settings.upstream_read_timeout,
                                     write=settings.upstream_write_timeout, pool=settings.upstream_pool_timeout)
        # One connection pool per upstream. Proxied requests go straight to its transport: the client's
        # per-request extras (default headers such as Accept-Encoding, cookie jar, redirects) do not belong
        # in a proxy. The client around the same pool serves the gateway's own calls (readyz, OpenAPI).
        # Idle connections are dropped before the services' uvicorn closes them (its keep-alive is 5 s): reusing
        # one the server is closing fails the request (ReadError), and a POST cannot be retried.
        self.transport = transport or ShardedTransport(
            shards=settings.upstream_pool_shards,
            limits=httpx.Limits(max_connections=settings.upstream_max_connections,
                                max_keepalive_connections=settings.upstream_max_keepalive, keepalive_expiry=4),
            retries=0, trust_env=False)
        self.client = httpx.AsyncClient(transport=self.transport, timeout=self.timeout, follow_redirects=False,
                                        trust_env=False, cookies=_no_cookies())
        self.breaker = CircuitBreaker(failures=settings.breaker_failures, open_seconds=settings.breaker_open_seconds)
        self.budget = RetryBudget(ratio=settings.retry_budget_ratio, floor=settings.retry_budget_floor)
        self.stats: Counter[str] = Counter()

    async def aclose(self) -> None:
        await self.client.aclose()

    def _target(self, request: Request) -> str:
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0][len(self.prefix):] or "/"
        query = request.scope.get("query_string", b"").decode("latin-1")
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def _location(self, value: bytes) -> bytes:
        """Redirects point at the gateway's path for the service, never at the service's own address."""
        location = value.decode("latin-1")
        if location.startswith(self.base_url + "/"):
            location = location[len(self.base_url):]
        if location.startswith("/") and not location.startswith("//"):
            location = self.prefix + location
        return location.encode("latin-1")

    async def _limited(self, request: Request) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > self.max_body:
                raise BodyTooLarge
            if chunk:
                yield chunk

    async def _read_all(self, request: Request) -> bytes:
        return b"".join([chunk async for chunk in self._limited(request)])

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
        verdict = False
        try:
            content: bytes | AsyncIterator[bytes] | None = None
            if has_body:
                # Idempotent requests are retried, so their (rare, small) bodies are kept; others are streamed.
                content = await self._read_all(request) if idempotent else self._limited(request)
                if idempotent:
                    headers = [(k, v) for k, v in headers if k != "content-length"]
            upstream_request = httpx.Request(method, self._target(request), headers=headers, content=content,
                                             extensions={"timeout": self.timeout.as_dict()})
            self.budget.request()
            attempt = 0
            while True:
                attempt += 1
                self.stats["attempts"] += 1
                try:
                    response = await self.transport.handle_async_request(upstream_request)
                    break
                except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                    # Nothing reached the service (or it hung up before answering): safe to repeat a GET.
                    if idempotent and attempt <= self.retry_attempts and self.budget.withdraw():
                        self.stats["retries"] += 1
                        continue
                    self.breaker.failure()
                    verdict = True
                    raise Unavailable(f"{self.name} is not reachable") from exc
                except httpx.TimeoutException as exc:
                    self.breaker.failure()
                    verdict = True
                    raise UpstreamTimeout(f"{self.name} did not answer in time") from exc
                except httpx.RequestError as exc:
                    self.breaker.failure()
                    verdict = True
                    raise Unavailable(f"{self.name} failed while answering") from exc
        except BodyTooLarge:
            raise PayloadTooLarge(f"the request body is larger than {self.max_body} bytes") from None
        finally:
            if not verdict:
                self.breaker.abandoned()
        self.breaker.success()
        drop = HOP_BY_HOP | _RESPONSE_DROP | _connection_tokens(response.headers.raw)
        out = [(k, self._location(v) if k.lower() == b"location" else v)
               for k, v in response.headers.raw if k.decode("latin-1").lower() not in drop]
        out.append((b"traceparent", traceparent.encode()))
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) <= SMALL_BODY:
            try:
                body = b"".join([chunk async for chunk in response.aiter_raw()])  # as sent: still encoded
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout(f"{self.name} did not answer in time") from exc
            except httpx.RequestError as exc:
                raise Unavailable(f"{self.name} failed while answering") from exc
            finally:
                await response.aclose()
            small = Response(body, status_code=response.status_code)
            small.raw_headers = out
            return small
        return UpstreamResponse(response, out)
