"""FastAPI factory of the gateway service."""

from __future__ import annotations

import asyncio
import logging
import posixpath
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.middleware import Middleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.gateway.asyncapi import build_asyncapi
from services.gateway.console.router import mount_console
from services.gateway.identity.keys import KeyCipher, KeyRing, LocalVerifier, ensure_active_key
from services.gateway.identity.router import router as identity_router
from services.gateway.identity.service import bootstrap
from services.gateway.identity.throttle import Throttle
from services.gateway.middleware import BodyLimitMiddleware, RateLimitMiddleware
from services.gateway.openapi import MergedOpenAPI
from services.gateway.proxy.upstream import METHODS, Upstream
from services.gateway.settings import GatewaySettings
from shared import audit
from shared.audit.router import audit_router
from shared.errors import NotFound, problem
from shared.metrics import scrape_token_ok
from shared.web import create_service_app

_REPLACED = {"/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# Swagger UI and ReDoc as the fastapi-offline package ships them (no CDN: the docs work without internet).
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"


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
        cipher = KeyCipher.from_setting(settings.signing_key_encryption_key)
        with audit.acting_as("gateway:startup", method="START"):
            async with app.state.sessionmaker() as session, session.begin():
                await ensure_active_key(session, cipher)
                await bootstrap(session=session, settings=settings)
        keyring = KeyRing(sessionmaker=app.state.sessionmaker, cipher=cipher,
                          access_token_ttl=settings.access_token_ttl, refresh_seconds=settings.key_refresh_seconds)
        await keyring.reload()
        app.state.keyring = keyring
        app.state.throttle = Throttle(sessionmaker=app.state.sessionmaker, settings=settings)
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

    app = create_service_app(settings=settings, title="gateway", on_startup=on_startup,
                             routers=[identity_router, audit_router("/auth/audit")],
                             unguarded_prefixes=tuple(f"/{name}/" for name in settings.upstreams()))
    # The gateway is the edge: a client's X-Forwarded-Prefix means nothing here (the proxy sends its own).
    app.state.trust_forwarded_prefix = False
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

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> dict:
        """The topics, their messages and the services that send and receive them (AsyncAPI 3.0)."""
        return asyncapi_document

    asyncapi_document = build_asyncapi(bootstrap=settings.kafka_bootstrap_servers)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # The Authorize button offers the password and client-credentials flows of /auth/token.
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Social-work platform API",
            oauth2_redirect_url="/docs/oauth2-redirect", swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css", swagger_favicon_url="/docs/assets/favicon.png",
            swagger_ui_parameters={"persistAuthorization": False, "displayOperationId": True})

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def docs_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="Social-work platform API",
                              redoc_js_url="/docs/assets/redoc.standalone.js",
                              redoc_favicon_url="/docs/assets/favicon.png", with_google_fonts=False)

    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

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
    if settings.trusted_proxies:
        # Outermost: the rate limit, the sign-in throttle, the logs and the proxied X-Forwarded-For all see the
        # client's address (uvicorn's middleware takes the right-most address not added by a trusted proxy).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


# A service's own operational paths are never proxied: its description and docs are merged into the gateway's,
# and its /metrics goes through only with the scrape token (the service checks it again).
_NOT_PROXIED = frozenset({"docs", "docs/oauth2-redirect", "redoc", "openapi.json"})


def _operational(request: Request, name: str) -> bool:
    """True for a path of a service's operational endpoints the caller may not reach through the gateway."""
    # As the service will see it once decoded (`/subsidy/%6Detrics/` is /metrics), with `//` and `.` folded.
    tail = posixpath.normpath("/" + request.scope["path"][len(name) + 2:]).strip("/")
    if tail in _NOT_PROXIED:
        return True
    if tail == "metrics":
        token = request.app.state.settings.metrics_token
        return token is None or not scrape_token_ok(request, token)
    return False


def _lazy_route(name: str) -> Route:
    """The proxy route of one upstream; the Upstream (and its pooled client) exists once the lifespan runs."""

    async def endpoint(request: Request):
        if _operational(request, name):
            raise NotFound("no such path")
        return await request.app.state.upstreams[name].handle(request)

    return Route(f"/{name}/{{path:path}}", endpoint, methods=METHODS, include_in_schema=False, name=f"proxy_{name}")
