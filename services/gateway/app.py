"""FastAPI factory of the gateway service."""

from __future__ import annotations

from fastapi import FastAPI

from services.gateway.settings import GatewaySettings
from shared.web import create_service_app


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    return create_service_app(settings=settings, title="gateway", routers=[])
