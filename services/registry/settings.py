"""Settings of the registry service (environment prefix REGISTRY_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", populate_by_name=True)

    service_name: str = "registry"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/registry"
