"""Settings of the projects service (environment prefix PROJECTS_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ProjectsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTS_", extra="ignore", populate_by_name=True)

    service_name: str = "projects"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/projects"
    # Without its client secret the service cannot get a token for the registry: refuse to start in prod.
    required_secrets: tuple[str, ...] = ("client_secret",)
