"""Settings of the subsidy service (environment prefix SUBSIDY_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class SubsidySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBSIDY_", extra="ignore", populate_by_name=True)

    service_name: str = "subsidy"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/subsidy"
