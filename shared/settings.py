"""Settings every service reads; each service subclasses ServiceSettings with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def shared_env(name: str, default=None, **kwargs):
    """A setting read from one unprefixed variable shared by every service (e.g. KAFKA_BOOTSTRAP_SERVERS)."""
    return Field(default, validation_alias=AliasChoices(name), **kwargs)


class ServiceSettings(BaseSettings):
    """Base settings. Secrets are `SecretStr | None`; outside dev and test a missing secret refuses to start."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "service"
    env: Literal["dev", "test", "prod"] = shared_env("SOCIALWORK_ENV", "prod")
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    db_pool_size: int = 10
    kafka_bootstrap_servers: str = shared_env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    kafka_topic_partitions: int = shared_env("KAFKA_TOPIC_PARTITIONS", 4)
    auth_issuer: str = shared_env("AUTH_ISSUER", "socialwork-gateway")
    auth_audience: str = shared_env("AUTH_AUDIENCE", "socialwork")
    auth_jwks_url: str = shared_env("AUTH_JWKS_URL", "http://127.0.0.1:8000/.well-known/jwks.json")
    # Inline JWKS (JSON) instead of fetching it: for tests and air-gapped deployments.
    auth_jwks_json: str | None = shared_env("AUTH_JWKS_JSON", None)
    gateway_url: str = shared_env("GATEWAY_URL", "http://127.0.0.1:8000")
    registry_url: str = shared_env("REGISTRY_URL", "http://127.0.0.1:8001")
    # Short on purpose: a request waiting on a dead registry answers 503 instead of hanging.
    registry_timeout_s: float = 3.0
    log_level: str = shared_env("LOG_LEVEL", "INFO")
    # Where a service's own client-credentials token comes from (service-to-service calls).
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Prometheus scrapes /metrics with `Authorization: Bearer <token>` when a token is set; without one, /metrics
    # is open when `metrics_require_token` is off (a service on its internal port) and absent (404) when it is on
    # (the gateway, which is public).
    metrics_token: SecretStr | None = shared_env("METRICS_SCRAPE_TOKEN", None)
    metrics_require_token: bool = False
    run_relay: bool = True
    run_consumer: bool = True

    # Names of the SecretStr fields that must be present outside dev/test.
    required_secrets: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _refuse_missing_secrets(self):
        if self.env == "prod":
            missing = [name for name in self.required_secrets if not getattr(self, name)]
            if missing:
                prefix = self.model_config.get("env_prefix", "")
                names = ", ".join(f"{prefix}{m}".upper() for m in missing)
                raise ValueError(f"missing secret settings outside dev: {names}")
        return self
