"""FastAPI factory of the subsidy service."""

from __future__ import annotations

from fastapi import FastAPI

from services.subsidy.settings import SubsidySettings
from shared.web import create_service_app


def create_app(settings: SubsidySettings | None = None) -> FastAPI:
    settings = settings or SubsidySettings()
    return create_service_app(settings=settings, title="subsidy", routers=[])
