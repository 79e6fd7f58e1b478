"""FastAPI factory of the projects service."""

from __future__ import annotations

from fastapi import FastAPI

from services.projects.settings import ProjectsSettings
from shared.web import create_service_app


def create_app(settings: ProjectsSettings | None = None) -> FastAPI:
    settings = settings or ProjectsSettings()
    return create_service_app(settings=settings, title="projects", routers=[])
