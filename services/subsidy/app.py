"""FastAPI factory of the subsidy service."""

from __future__ import annotations

from fastapi import FastAPI

from services.subsidy.access import SUBSIDY_ROLES
from services.subsidy.applications.router import router as applications_router
from services.subsidy.eligibility.router import router as eligibility_router
from services.subsidy.facts.handlers import HANDLERS
from services.subsidy.ledger.metrics import install_ledger_metrics
from services.subsidy.ledger.router import router as ledger_router
from services.subsidy.payments.router import router as payments_router
from services.subsidy.policies.router import router as policies_router
from services.subsidy.reports.router import router as reports_router
from services.subsidy.settings import SubsidySettings
from shared.audit.router import router as audit_router
from shared.auth import allow
from shared.registry_client import RegistryClient
from shared.web import create_service_app


def create_app(settings: SubsidySettings | None = None, *, registry: RegistryClient | None = None) -> FastAPI:
    """`registry` overrides the registry client (tests run the real registry app in-process)."""
    settings = settings or SubsidySettings()
    app = create_service_app(
        settings=settings, title="subsidy", handlers=HANDLERS,
        routers=[policies_router, eligibility_router, applications_router, ledger_router, payments_router,
                 reports_router,
                 audit_router],
        dependencies=[allow(*SUBSIDY_ROLES)])
    # Without client credentials there is no token for the registry: exports then carry no names.
    configured = settings.client_id and settings.client_secret
    app.state.registry = registry or (RegistryClient.from_settings(settings) if configured else None)
    install_ledger_metrics(app)
    return app
