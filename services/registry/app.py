"""FastAPI factory of the registry service."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.settings import RegistrySettings
from shared.web import create_service_app


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    return create_service_app(settings=settings, title="registry", routers=[])
