"""Settings of the gateway service (environment prefix GATEWAY_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/gateway"
