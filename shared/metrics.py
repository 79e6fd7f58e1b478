"""Prometheus metrics per service: request latency by route, outbox backlog and age, consumer lag, DLQ size.

/metrics is operational, not public (see ServiceSettings.metrics_token). Each app has its own CollectorRegistry
(tests build many apps in one process). Gauges that come from the database are refreshed when /metrics is
scraped; a service adds its own with `extra` callbacks.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from pydantic import SecretStr
from sqlalchemy import text

from shared.errors import NotFound, Unauthorized
from shared.events.outbox import outbox_status

MetricsHook = Callable[[FastAPI, CollectorRegistry], Awaitable[None]]


class Metrics:
    def __init__(self, service: str):
        self.registry = CollectorRegistry()
        labels = {"registry": self.registry}
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency by route",
                                 ["method", "route", "status"], **labels)
        self.outbox_pending = Gauge("outbox_pending_events", "events not yet acknowledged by the broker", **labels)
        self.outbox_dead = Gauge("outbox_dead_events", "events that failed for their own reason", **labels)
        self.outbox_age = Gauge("outbox_oldest_pending_age_seconds", "age of the oldest unpublished event", **labels)
        self.consumer_lag = Gauge("consumer_lag_messages", "messages on the broker not yet applied", **labels)
        self.consumer_processed = Gauge("consumer_processed_events", "events applied since start", **labels)
        self.dead_letters = Gauge("dead_letters_total", "messages this service sent to a dead-letter topic", **labels)
        self.hooks: list[MetricsHook] = []

    async def refresh(self, app: FastAPI) -> None:
        async with app.state.sessionmaker() as session:
            status = await outbox_status(session)
            dead = (await session.execute(text("SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL"))).scalar()
        self.outbox_pending.set(status.pending)
        self.outbox_dead.set(status.dead)
        self.outbox_age.set(status.oldest_pending_age_s)
        self.dead_letters.set(dead)
        consumer = getattr(app.state, "consumer", None)
        if consumer is not None:
            self.consumer_lag.set(await consumer.lag())
            self.consumer_processed.set(consumer.processed)
        for hook in self.hooks:
            await hook(app, self.registry)


class MetricsMiddleware:
    """Pure ASGI: observes latency labelled by the route template, not the raw path (bounded cardinality).

    The histogram's child per (method, route, status) is kept here: `labels()` checks and locks on every call,
    a cost of every request; the label sets are bounded by the routes."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, int], Histogram] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def observe_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            key = (scope["method"], template, status["code"])
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self.metrics.latency.labels(key[0], template, str(key[2]))
            child.observe(time.perf_counter() - started)


def scrape_token_ok(request: Request, token: SecretStr) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                               token.get_secret_value().encode())


def install_metrics(app: FastAPI, service: str) -> Metrics:
    metrics = Metrics(service)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", tags=["health"], operation_id="metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        settings = request.app.state.settings
        if settings.metrics_token is None and settings.metrics_require_token:
            raise NotFound("no such path")
        if settings.metrics_token is not None and not scrape_token_ok(request, settings.metrics_token):
            raise Unauthorized("/metrics needs the scrape token (Authorization: Bearer)",
                               headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        await metrics.refresh(request.app)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
