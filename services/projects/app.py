"""FastAPI factory of the projects service."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.projects.activities.router import router as activities_router
from services.projects.calls.router import router as calls_router
from services.projects.common import PROJECTS_ROLES, Clock
from services.projects.microprojects.router import router as projects_router
from services.projects.service_reports.router import router as reports_router
from services.projects.settings import ProjectsSettings
from shared.audit.router import router as audit_router
from shared.auth import allow
from shared.registry_client import RegistryClient
from shared.web import create_service_app


def create_app(settings: ProjectsSettings | None = None, *, registry: RegistryClient | None = None,
               clock: Clock | None = None) -> FastAPI:
    """`registry` and `clock` are injectable: tests serve the real registry app in-process."""
    settings = settings or ProjectsSettings()

    @asynccontextmanager
    async def on_startup(app: FastAPI):
        client = registry or RegistryClient.from_settings(settings)
        app.state.registry = client
        app.state.clock = clock or Clock()
        try:
            yield
        finally:
            if registry is None:  # an injected client belongs to whoever made it
                await client.aclose()

    return create_service_app(settings=settings, title="projects", on_startup=on_startup,
                              routers=[calls_router, projects_router, activities_router, reports_router, audit_router],
                              dependencies=[allow(*PROJECTS_ROLES)])
