"""The FastAPI factory every service uses: middleware, problem details, health, relay and inbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import text

from shared.auth import JwksVerifier
from shared.body_guard import BodyGuardMiddleware
from shared.contracts.events import TOPICS
from shared.db import make_engine, make_sessionmaker
from shared.errors import install_error_handlers, problem
from shared.events.inbox import Handler, InboxConsumer
from shared.events.kafka import broker_reachable
from shared.events.outbox import OutboxRelay
from shared.logs import RequestIdMiddleware, configure_logging
from shared.metrics import install_metrics
from shared.settings import ServiceSettings

log = logging.getLogger("shared.web")


def operation_id(route: APIRoute) -> str:
    """Stable operation ids (the function name): client generators and the merged docs rely on them."""
    return route.name


def create_service_app(
    *, settings: ServiceSettings, title: str, routers: Sequence[APIRouter],
    handlers: dict[str, Handler] | None = None,
    on_startup: Callable[[FastAPI], contextlib.AbstractAsyncContextManager] | None = None,
    configure_logs: bool = True, dependencies: Sequence = (), unguarded_prefixes: tuple[str, ...] = (),
) -> FastAPI:
    """`dependencies` run before every route of `routers` (e.g. `shared.auth.allow(...)`: who may use the service).
    `unguarded_prefixes`: paths whose bodies are not scanned here (the gateway's proxied paths: the services
    scan their own)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging(settings.service_name, settings.log_level)
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        read_engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, reads_only=True)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_engine = read_engine  # see shared.db.read_once
        app.state.verifier = JwksVerifier(
            issuer=settings.auth_issuer, audience=settings.auth_audience,
            jwks_url=settings.auth_jwks_url, jwks_json=settings.auth_jwks_json)
        tasks: list[asyncio.Task] = []
        app.state.relay = app.state.consumer = None
        if settings.run_relay:
            app.state.relay = OutboxRelay(engine=engine, bootstrap=settings.kafka_bootstrap_servers,
                                          service=settings.service_name)
            tasks.append(asyncio.create_task(app.state.relay.run(), name="outbox-relay"))
        if handlers and settings.run_consumer:
            app.state.consumer = InboxConsumer(engine=engine, bootstrap=settings.kafka_bootstrap_servers,
                                               service=settings.service_name, handlers=handlers, topics=TOPICS)
            tasks.append(asyncio.create_task(app.state.consumer.run(), name="inbox-consumer"))
        try:
            if on_startup is not None:
                async with on_startup(app):
                    yield
            else:
                yield
        finally:
            for worker in (app.state.relay, app.state.consumer):
                if worker is not None:
                    worker.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await engine.dispose()
            await read_engine.dispose()

    # FastAPI's built-in OpenTelemetry hooks are off: /metrics, request ids and traceparent are our own, and
    # the hooks' per-request look-ups (environment, providers) cost ~5% of the gateway's CPU per request.
    app = FastAPI(title=title, version="1.0.0", lifespan=lifespan, generate_unique_id_function=operation_id,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    install_metrics(app, settings.service_name)
    # Inside the request id middleware: its 400s and 422s carry the id.
    app.add_middleware(BodyGuardMiddleware, skip_prefixes=unguarded_prefixes)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"], operation_id="healthz")
    async def healthz() -> dict:
        """Alive: the process answers."""
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["health"], operation_id="readyz")
    async def readyz(request: Request):
        """Ready: the database and the broker are reachable."""
        checks = {"database": "ok", "broker": "ok"}
        try:
            async with asyncio.timeout(2.0), request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            checks["database"] = "unreachable"
        if not await broker_reachable(settings.kafka_bootstrap_servers):
            checks["broker"] = "unreachable"
        consumer = request.app.state.consumer
        if consumer is not None:
            checks["consumer"] = "stalled" if consumer.stalled(now=asyncio.get_running_loop().time()) else "ok"
        if any(v != "ok" for v in checks.values()):
            return problem(503, "Not ready", ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok"),
                           request=request, checks=checks)
        return {"status": "ready", "service": settings.service_name, "checks": checks}

    for router in routers:
        app.include_router(router, dependencies=list(dependencies))
    return app
