"""FastAPI factory of the subsidy service."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from services.subsidy.access import SUBSIDY_ROLES
from services.subsidy.applications.router import router as applications_router
from services.subsidy.eligibility.router import router as eligibility_router
from services.subsidy.facts.handlers import HANDLERS
from services.subsidy.ledger.metrics import install_ledger_metrics
from services.subsidy.ledger.router import router as ledger_router
from services.subsidy.payments.router import router as payments_router
from services.subsidy.payments.webhooks import run_sender
from services.subsidy.policies.router import router as policies_router
from services.subsidy.reports import service as reports
from services.subsidy.reports.cache import SummaryCache
from services.subsidy.reports.router import router as reports_router
from services.subsidy.settings import SubsidySettings
from shared.audit.router import router as audit_router
from shared.auth import allow
from shared.registry_client import RegistryClient
from shared.web import create_service_app


def create_app(settings: SubsidySettings | None = None, *, registry: RegistryClient | None = None) -> FastAPI:
    """`registry` overrides the registry client (tests run the real registry app in-process)."""
    settings = settings or SubsidySettings()
    @contextlib.asynccontextmanager
    async def on_startup(app: FastAPI):
        """The webhook sender runs beside the outbox relay (both send what this service wrote); the report
        summary's cache keeps itself warm."""
        app.state.summary_cache = SummaryCache(
            app.state.engine, lambda conn, key: reports.figures(conn, reports.EVERYONE, *key))
        app.state.summary_cache.start()
        sender = asyncio.create_task(run_sender(
            app.state.sessionmaker, check_address=settings.env not in ("dev", "test")), name="webhook-sender") \
            if settings.run_relay else None
        try:
            yield
        finally:
            await app.state.summary_cache.close()
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender

    app = create_service_app(
        settings=settings, title="subsidy", handlers=HANDLERS, on_startup=on_startup,
        routers=[policies_router, eligibility_router, applications_router, ledger_router, payments_router,
                 reports_router,
                 audit_router],
        dependencies=[allow(*SUBSIDY_ROLES)])
    # Without client credentials there is no token for the registry: exports then carry no names.
    configured = settings.client_id and settings.client_secret
    app.state.registry = registry or (RegistryClient.from_settings(settings) if configured else None)
    install_ledger_metrics(app)
    return app
