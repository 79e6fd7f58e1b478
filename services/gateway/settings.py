"""Settings of the gateway service (environment prefix GATEWAY_)."""

from __future__ import annotations

import base64
import secrets

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, shared_env


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/gateway"
    # The gateway is public: its /metrics needs METRICS_SCRAPE_TOKEN, and services' /metrics are proxied only with it.
    metrics_require_token: bool = True
    # The gateway publishes no events.
    run_relay: bool = False
    run_consumer: bool = False

    # First administrator: created at startup in dev/test when no user exists; in prod by create_admin().
    admin_username: str | None = None
    admin_password: SecretStr | None = None

    # AES-GCM key sealing the signing private keys in the database (urlsafe base64 of 32 bytes).
    signing_key_encryption_key: SecretStr | None = None
    required_secrets: tuple[str, ...] = ("signing_key_encryption_key",)

    access_token_ttl: int = 900
    refresh_token_ttl: int = 14 * 24 * 3600
    # How often a process re-reads the signing keys from its database (another process may have rotated).
    key_refresh_seconds: float = 30.0

    subsidy_url: str = shared_env("SUBSIDY_URL", "http://127.0.0.1:8002")
    projects_url: str = shared_env("PROJECTS_URL", "http://127.0.0.1:8003")

    # Service clients upserted at startup in dev/test (the dev stack generates them).
    registry_client_id: str | None = shared_env("REGISTRY_CLIENT_ID", None)
    registry_client_secret: SecretStr | None = shared_env("REGISTRY_CLIENT_SECRET", None)
    subsidy_client_id: str | None = shared_env("SUBSIDY_CLIENT_ID", None)
    subsidy_client_secret: SecretStr | None = shared_env("SUBSIDY_CLIENT_SECRET", None)
    projects_client_id: str | None = shared_env("PROJECTS_CLIENT_ID", None)
    projects_client_secret: SecretStr | None = shared_env("PROJECTS_CLIENT_SECRET", None)

    # Upstream HTTP: one pooled client per upstream.
    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 30.0
    upstream_pool_timeout: float = 2.0
    upstream_max_connections: int = 256
    # Idempotent requests are retried on connect errors, at most this many times each,
    # and only while retries stay under retry_budget_ratio of recent requests (plus a small floor).
    retry_attempts: int = 2
    retry_budget_ratio: float = 0.2
    retry_budget_floor: float = 10.0
    breaker_failures: int = 5
    breaker_open_seconds: float = 10.0

    # Token bucket per client: `rate_limit_per_second` refill, `rate_limit_burst` capacity.
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 200
    rate_limit_enabled: bool = True

    # Sign-in throttling (password and client-credentials grants), counted in the gateway's database so every
    # gateway process sees the same counts. Per account (username or client id): `login_free_failures` failures
    # cost nothing, each further one doubles the wait (from `login_delay_seconds` up to `login_max_delay_seconds`),
    # `login_lock_failures` lock it for `login_lock_seconds`; a success resets it. Per client address the same with
    # the address limits (many people may share one address). Failures older than the window are forgotten.
    login_throttle_enabled: bool = True
    login_free_failures: int = 5
    login_lock_failures: int = 10
    login_address_free_failures: int = 20
    login_address_lock_failures: int = 100
    login_delay_seconds: float = 1.0
    login_max_delay_seconds: float = 60.0
    login_lock_seconds: float = 900.0
    login_failure_window_seconds: float = 3600.0
    # A refused attempt (429) is answered after this long (at most its Retry-After): a guesser who waits for each
    # answer, as guessing tools do, then sends about one guess a second per connection instead of as many as the
    # gateway can refuse, and a person signing in meanwhile does not queue behind their refusals. The wait costs no
    # CPU and no database connection; 0 answers at once.
    login_refusal_delay_seconds: float = 1.0
    # Proxies (addresses or networks) whose X-Forwarded-For is believed; empty: the peer is the client.
    trusted_proxies: list[str] = []

    cors_origins: list[str] = []
    max_body_bytes: int = 20 * 1024 * 1024
    openapi_cache_seconds: float = 30.0

    @model_validator(mode="after")
    def _generate_test_key(self):
        """In dev and test a missing key is generated (keys sealed with it are unreadable after a restart: the
        dev stack keeps its key in secrets.json)."""
        if self.env in ("dev", "test") and self.signing_key_encryption_key is None:
            self.signing_key_encryption_key = SecretStr(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        return self

    def upstreams(self) -> dict[str, str]:
        return {"registry": self.registry_url, "subsidy": self.subsidy_url, "projects": self.projects_url}

    def service_clients(self) -> dict[str, tuple[str, SecretStr]]:
        found = {}
        for svc in ("registry", "subsidy", "projects"):
            cid, secret = getattr(self, f"{svc}_client_id"), getattr(self, f"{svc}_client_secret")
            if cid and secret:
                found[svc] = (cid, secret)
        return found
