"""Settings of the registry service (environment prefix REGISTRY_)."""

from __future__ import annotations

import base64
import secrets

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", populate_by_name=True)

    service_name: str = "registry"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/registry"
    # AES-GCM key for ID numbers and phones (urlsafe base64 of 16, 24 or 32 bytes).
    id_number_key: SecretStr | None = None
    # HMAC-SHA256 key of the look-up hash of ID numbers (urlsafe base64, at least 16 bytes).
    lookup_key: SecretStr | None = None
    # Rows written per batched statement by the HR import.
    import_batch_size: int = 5000
    # HR-system clients (by client id) whose certificates count at once, like the bureau's own. Every other
    # HR system's certificates are claims until a bureau_admin verifies them. JSON: '["hr-municipal"]'.
    trusted_hr_clients: frozenset[str] = frozenset()
    # Service clients (by client id) that may read payees' clear names, ID numbers and bank accounts for bank
    # files (the subsidy service's). Every other caller of the internal API gets 403. JSON: '["svc-subsidy"]'.
    payee_clients: frozenset[str] = frozenset()
    # Limits of one import: the body (413 above it), its data rows, and what a workbook may unpack to.
    import_max_bytes: int = 64 * 2**20
    import_max_rows: int = 200_000
    import_max_unzipped_bytes: int = 512 * 2**20
    required_secrets: tuple[str, ...] = ("id_number_key", "lookup_key")

    @model_validator(mode="after")
    def _generate_dev_keys(self):
        """In dev and test a missing key is generated (data encrypted with it is unreadable after a restart)."""
        if self.env in ("dev", "test"):
            for name in ("id_number_key", "lookup_key"):
                if getattr(self, name) is None:
                    setattr(self, name, SecretStr(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()))
        return self
