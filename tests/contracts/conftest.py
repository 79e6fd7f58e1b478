"""A real gateway on a port, merging the real services' OpenAPI descriptions (served by stubs: no databases)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.projects.app import create_app as projects_app
from services.registry.app import create_app as registry_app
from services.subsidy.app import create_app as subsidy_app
from tests.gateway.conftest import ADMIN, serve
from tests.support import fresh_database


def spec_stub(spec: dict) -> FastAPI:
    """An upstream that answers only what the gateway asks of it for the docs: its description and readiness."""
    stub = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @stub.get("/openapi.json")
    async def openapi() -> dict:
        return spec

    @stub.get("/readyz")
    async def readyz() -> dict:
        return {"status": "ready"}

    return stub


@pytest.fixture(scope="module")
async def platform(pg):
    """{"url", "client", "spec", "app"}: the gateway's base URL, a client for it, the merged OpenAPI it serves."""
    specs = {name: factory().openapi() for name, factory in
             (("registry", registry_app), ("subsidy", subsidy_app), ("projects", projects_app))}
    async with serve(spec_stub(specs["registry"])) as registry, serve(spec_stub(specs["subsidy"])) as subsidy, \
            serve(spec_stub(specs["projects"])) as projects:
        settings = GatewaySettings(
            database_url=await fresh_database(pg, "gateway"), env="test", admin_username=ADMIN[0],
            admin_password=ADMIN[1], registry_url=registry, subsidy_url=subsidy, projects_url=projects,
            rate_limit_enabled=False)
        app = create_app(settings)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            spec = (await client.get("/openapi.json")).json()
            assert "x-unavailable-services" not in spec["info"], spec["info"]
            yield {"url": url, "client": client, "spec": spec, "app": app}
