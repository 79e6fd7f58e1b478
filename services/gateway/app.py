"""FastAPI factory of the gateway service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware import Middleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from sqlalchemy import text
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from services.gateway.console.router import mount_console
from services.gateway.identity.keys import KeyRing, LocalVerifier, ensure_active_key
from services.gateway.identity.router import router as identity_router
from services.gateway.identity.service import bootstrap
from services.gateway.middleware import BodyLimitMiddleware, RateLimitMiddleware
from services.gateway.openapi import MergedOpenAPI
from services.gateway.proxy.upstream import METHODS, Upstream
from services.gateway.settings import GatewaySettings
from shared.errors import problem
from shared.web import create_service_app

_REPLACED = {"/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


async def _check_upstream(upstream: Upstream) -> str:
    status, _ = await upstream.get_json("/readyz", timeout=2.0)
    if status == 0:
        return "unreachable"
    return "ok" if status == 200 else f"not ready ({status})"


async def _check_database(app: FastAPI) -> str:
    try:
        async with asyncio.timeout(2.0), app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "ok"
    except Exception:
        return "unreachable"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def on_startup(app: FastAPI) -> AsyncIterator[None]:
        # httpx logs every proxied call at INFO; the request line the middleware writes is enough.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        async with app.state.sessionmaker() as session, session.begin():
            await ensure_active_key(session)
            await bootstrap(session=session, settings=settings)
        keyring = KeyRing(sessionmaker=app.state.sessionmaker, access_token_ttl=settings.access_token_ttl,
                          refresh_seconds=settings.key_refresh_seconds)
        await keyring.reload()
        app.state.keyring = keyring
        # The gateway verifies its own tokens from its key ring; fetching its own JWKS over HTTP could deadlock.
        app.state.verifier = LocalVerifier(keyring=keyring, issuer=settings.auth_issuer,
                                           audience=settings.auth_audience)
        app.state.upstreams = {name: Upstream(name, url, settings) for name, url in settings.upstreams().items()}
        app.state.openapi = MergedOpenAPI(ttl=settings.openapi_cache_seconds)
        try:
            yield
        finally:
            for upstream in app.state.upstreams.values():
                await upstream.aclose()

    app = create_service_app(settings=settings, title="gateway", routers=[identity_router], on_startup=on_startup)
    # The factory's /readyz checks a broker the gateway does not use, and /openapi.json shows only this app:
    # both are replaced (with /docs pointing at the merged description).
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in _REPLACED]

    @app.get("/readyz", tags=["health"], operation_id="readyz")
    async def readyz(request: Request):
        """Ready: the gateway's database and every service's /readyz."""
        upstreams = request.app.state.upstreams
        results = await asyncio.gather(_check_database(request.app),
                                       *(_check_upstream(u) for u in upstreams.values()))
        checks = dict(zip(["database", *upstreams], results, strict=True))
        if any(v != "ok" for v in checks.values()):
            return problem(503, "Not ready", ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok"),
                           request=request, checks=checks)
        return {"status": "ready", "service": settings.service_name, "checks": checks}

    @app.get("/openapi.json", include_in_schema=False)
    async def merged_openapi(request: Request) -> dict:
        return await request.app.state.openapi.get(request.app.openapi(), request.app.state.upstreams)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Social-work platform API")

    mount_console(app)

    # The proxy routes are matched first: nearly every request is one, and matching is a scan of the routes.
    app.router.routes[:0] = [_lazy_route(name) for name in settings.upstreams()]

    # Order, outermost first: CORS, request id (from the factory), body limit, rate limit.
    app.user_middleware.append(Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes))
    if settings.rate_limit_enabled:
        app.user_middleware.append(Middleware(RateLimitMiddleware, rate=settings.rate_limit_per_second,
                                              burst=settings.rate_limit_burst))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["authorization", "content-type", "x-request-id", "traceparent",
                                          "tracestate", "idempotency-key"],
                           expose_headers=["x-request-id", "retry-after", "traceparent", "location"],
                           max_age=600)
    return app


def _lazy_route(name: str) -> Route:
    """The proxy route of one upstream; the Upstream (and its pooled client) exists once the lifespan runs."""

    async def endpoint(request: Request):
        return await request.app.state.upstreams[name].handle(request)

    return Route(f"/{name}/{{path:path}}", endpoint, methods=METHODS, include_in_schema=False, name=f"proxy_{name}")
