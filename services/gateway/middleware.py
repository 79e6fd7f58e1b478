"""ASGI middleware of the gateway: the request-size guard and the per-client rate limit."""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from starlette.requests import Request

from services.gateway.ratelimit import TokenBuckets
from shared.errors import Unauthorized, problem

EXEMPT = frozenset({"/healthz", "/readyz"})


class BodyLimitMiddleware:
    """413 before anything is read when Content-Length announces too much (the proxy also counts streamed bytes)."""

    def __init__(self, app, *, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for key, value in scope["headers"]:
                if key == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                    response = problem(413, "Payload too large",
                                       f"the request body is larger than {self.max_body_bytes} bytes",
                                       request=Request(scope))
                    return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class RateLimitMiddleware:
    """One token bucket per caller: the token's subject when it carries a valid bearer token, else the address."""

    def __init__(self, app, *, rate: float, burst: int, cache_size: int = 10_000):
        self.app = app
        self.buckets = TokenBuckets(rate=rate, burst=burst)
        self._subjects: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.cache_size = cache_size

    async def _caller(self, scope) -> str:
        token = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and rest.strip():
                    token = rest.strip()
                break
        if token is not None:
            cached = self._subjects.get(token)
            if cached is not None and cached[1] > time.time():
                return cached[0]
            verifier = getattr(scope["app"].state, "verifier", None)
            if verifier is not None:
                try:
                    principal = await verifier.verify(token)
                except Unauthorized:
                    principal = None
                except Exception:  # keys unavailable: fall back to the address, never fail the request here
                    principal = None
                if principal is not None:
                    subject = f"sub:{principal.subject}"
                    # Cached for a minute at most; the buckets only need to know who it is.
                    self._subjects[token] = (subject, time.time() + 60)
                    if len(self._subjects) > self.cache_size:
                        self._subjects.popitem(last=False)
                    return subject
        client = scope.get("client")
        return f"addr:{client[0] if client else 'unknown'}"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in EXEMPT or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        wait = self.buckets.take(await self._caller(scope))
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            response = problem(429, "Too many requests", f"rate limit reached; retry in {retry_after} s",
                               request=Request(scope), headers={"Retry-After": retry_after})
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)
