"""Migrations match the models; the production registry client (token from the gateway) degrades to 503."""

from __future__ import annotations

import time
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from devstack.embedded import free_port
from services.projects.models import Base
from services.projects.settings import ProjectsSettings
from shared.errors import Unavailable
from shared.registry_client import RegistryClient


async def test_migrations_match_the_models(db):
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with db.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_client_from_settings_answers_503_when_the_gateway_cannot_issue_a_token():
    closed = f"http://127.0.0.1:{free_port()}"
    settings = ProjectsSettings(env="test", gateway_url=closed, registry_url=closed, client_id="projects",
                                client_secret="s3cret", registry_timeout_s=1.0)
    client = RegistryClient.from_settings(settings)
    started = time.monotonic()
    try:
        await client.get_station(uuid.uuid4())
        raise AssertionError("expected Unavailable")
    except Unavailable as exc:
        assert exc.extra["upstream"] == "registry"
    finally:
        await client.aclose()
    assert time.monotonic() - started < 2.0


def test_prod_refuses_to_start_without_the_client_secret(monkeypatch):
    monkeypatch.delenv("PROJECTS_CLIENT_SECRET", raising=False)
    try:
        ProjectsSettings(env="prod")
        raise AssertionError("expected a refusal")
    except ValueError as exc:
        assert "PROJECTS_CLIENT_SECRET" in str(exc)
    assert ProjectsSettings(env="prod", client_secret="x").client_secret.get_secret_value() == "x"
