"""Fixtures: the REAL registry app and the projects app, both in-process, each with its own fresh database."""

from __future__ import annotations

import time

import httpx
import pytest

from services.projects.app import create_app
from services.projects.settings import ProjectsSettings
from services.registry.app import create_app as create_registry_app
from services.registry.settings import RegistrySettings
from shared.db import make_engine
from shared.registry_client import RegistryClient
from tests.projects.helpers import World
from tests.support import fresh_database, running_app


@pytest.fixture(scope="package")
async def registry(pg, broker, mint):
    url = await fresh_database(pg, "registry")
    settings = RegistrySettings(database_url=url, kafka_bootstrap_servers=broker.bootstrap,
                                auth_jwks_json=mint.jwks_json, env="test", run_relay=False, run_consumer=False)
    async with running_app(create_registry_app(settings), base_url="http://registry") as client:
        yield client


class CachedServiceToken:
    """Stands in for shared.auth.ServiceTokens: one service token, reused until near its expiry."""

    def __init__(self, mint):
        self.mint = mint
        self.token, self.expires, self.minted = None, 0.0, 0

    async def __call__(self) -> str:
        if self.token is None or time.monotonic() > self.expires - 30:
            self.token, self.expires = self.mint.token("service", sub="projects"), time.monotonic() + 300
            self.minted += 1
        return self.token


@pytest.fixture(scope="package")
def service_token(mint):
    return CachedServiceToken(mint)


@pytest.fixture(scope="package")
def projects_settings(pg, broker, mint):
    def make(url: str, **kw) -> ProjectsSettings:
        return ProjectsSettings(database_url=url, kafka_bootstrap_servers=broker.bootstrap,
                                auth_jwks_json=mint.jwks_json, env="test", **kw)
    return make


@pytest.fixture(scope="package")
async def projects_url(pg):
    return await fresh_database(pg, "projects")


@pytest.fixture(scope="package")
async def projects(projects_url, projects_settings, registry, service_token):
    client = RegistryClient(base_url="http://registry", token_source=service_token, timeout=3.0,
                            transport=httpx.ASGITransport(app=registry.app))
    app = create_app(projects_settings(projects_url), registry=client)
    async with running_app(app) as c:
        yield c
    await client.aclose()


@pytest.fixture(scope="package")
async def db(projects_url):
    engine = make_engine(projects_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
def world(registry, projects, mint) -> World:
    return World(registry=registry, projects=projects, mint=mint)
