"""FastAPI factory of the registry service."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.bank_accounts.router import router as bank_accounts_router
from services.registry.certificates.router import router as certificates_router
from services.registry.crypto import PersonalDataCipher
from services.registry.employments.router import router as employments_router
from services.registry.imports.router import router as imports_router
from services.registry.internal.router import router as internal_router
from services.registry.settings import RegistrySettings
from services.registry.stations.router import router as stations_router
from services.registry.stats.router import router as stats_router
from services.registry.workers.router import router as workers_router
from shared.audit.router import router as audit_router
from shared.web import create_service_app


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    routers = [stations_router, imports_router, workers_router, employments_router, certificates_router,
               bank_accounts_router, stats_router,
               internal_router, audit_router]
    app = create_service_app(settings=settings, title="registry", routers=routers)
    app.state.cipher = PersonalDataCipher.from_settings(settings)
    return app
